"""Lookups derived once per policy: which code means which analyte, concept or agent.

Built on first use and cached by policy identity, so a hook call pays dict lookups only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from cds_service.policy import Policy
from cds_service.record.medicines.classify import Classifier
from cds_service.record.model import Analyte, Substance

LOINC = "http://loinc.org"

# Within VS_B12_LAB the code itself says which B12 marker it is; other members are total B12.
_B12_LAB_BY_CODE = {f"{LOINC}|72160-5": Analyte.HOLOTC, f"{LOINC}|13964-2": Analyte.MMA}
_LAB_SETS = (
    ("VS_HCY_LAB", Analyte.HOMOCYSTEINE),
    ("LAB_FOLATE", Analyte.FOLATE),
    ("LAB_RBC_FOLATE", Analyte.RBC_FOLATE),
    ("LAB_HB", Analyte.HB),
    ("LAB_MCV", Analyte.MCV),
    ("LAB_PHQ9", Analyte.PHQ9),
    ("LAB_PHQ9_ITEM9", Analyte.PHQ9_ITEM9),
)
# Policy value sets of substance codes (RxNorm ingredients, ATC, dm+d) -> the substance.
SUBSTANCE_SETS: Mapping[str, Substance] = {
    f"MED_{substance.name}": substance for substance in Substance
}


@dataclass(frozen=True, slots=True)
class PolicyIndex:
    excluded: frozenset[str]
    lab_analyte: Mapping[str, Analyte]  # "system|code" -> analyte
    concepts: Mapping[str, frozenset[str]]  # "system|code" -> VS_* names containing it
    medicines: Classifier  # codes, names and Medication resources -> Product (cached)
    route_im: frozenset[str]  # ROUTE_INTRAMUSCULAR: route codes meaning an injection
    route_oral: frozenset[str]  # ROUTE_ORAL


def _sets(policy: Policy, name: str) -> frozenset[str]:
    return policy.value_sets.get(name, frozenset())


def _build(policy: Policy) -> PolicyIndex:
    excluded = _sets(policy, "EXCLUDED")
    labs: dict[str, Analyte] = {}
    for key in _sets(policy, "VS_B12_LAB"):
        labs[key] = _B12_LAB_BY_CODE.get(key, Analyte.B12)
    for name, analyte in _LAB_SETS:
        for key in _sets(policy, name):
            labs.setdefault(key, analyte)
    concepts: dict[str, set[str]] = {}
    for name, keys in policy.value_sets.items():
        if name.startswith("VS_"):
            for key in keys:
                concepts.setdefault(key, set()).add(name)
    substance_codes: dict[str, tuple[Substance, ...]] = {}
    for name, substance in SUBSTANCE_SETS.items():
        for key in _sets(policy, name):  # an EXCLUDED code is still read, never counted
            substance_codes[key] = (*substance_codes.get(key, ()), substance)
    return PolicyIndex(
        excluded=excluded,
        lab_analyte=MappingProxyType({k: v for k, v in labs.items() if k not in excluded}),
        concepts=MappingProxyType({k: frozenset(v) for k, v in concepts.items()}),
        medicines=Classifier(MappingProxyType(substance_codes)),
        route_im=_sets(policy, "ROUTE_INTRAMUSCULAR"),
        route_oral=_sets(policy, "ROUTE_ORAL"),
    )


_CACHE: dict[int, tuple[Policy, PolicyIndex]] = {}


def index_for(policy: Policy) -> PolicyIndex:
    """The index for this policy object (policies are frozen, so identity is enough)."""
    hit = _CACHE.get(id(policy))
    if hit is not None and hit[0] is policy:
        return hit[1]
    built = _build(policy)
    if len(_CACHE) >= 8:
        _CACHE.clear()
    _CACHE[id(policy)] = (policy, built)
    return built
