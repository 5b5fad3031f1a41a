"""Lookups derived once per policy: which code means which analyte, concept or agent.

Built on first use and cached by policy identity, so a hook call pays dict lookups only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from cds_service.policy import Policy, TextMatch
from cds_service.record.model import Agent, Analyte

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
# Priority order: a combination product containing B12 is B12 cover first.
AGENT_SETS: tuple[tuple[Agent, tuple[str, ...]], ...] = (
    (Agent.B12, ("VS_B12_THERAPY", "VS_B12_IM", "VS_B12_ORAL")),
    (Agent.FOLIC_ACID, ("VS_FOLIC_ACID",)),
    (Agent.METFORMIN, ("VS_METFORMIN",)),
    (Agent.PPI, ("VS_PPI",)),
)
AGENT_ORDER = tuple(agent for agent, _ in AGENT_SETS)


@dataclass(frozen=True, slots=True)
class PolicyIndex:
    excluded: frozenset[str]
    lab_analyte: Mapping[str, Analyte]  # "system|code" -> analyte
    concepts: Mapping[str, frozenset[str]]  # "system|code" -> VS_* names containing it
    agent: Mapping[str, Agent]  # "system|code" -> agent (highest priority wins)
    b12_injectable: frozenset[str]  # VS_B12_IM: 1 mg/mL injectable products and the IM route
    b12_oral: frozenset[str]  # VS_B12_ORAL: oral products and the oral route
    # every agent's name words in one match: a medication whose names hold none of them
    # is no agent by text, without asking each agent in turn
    any_agent_name: TextMatch


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
    agents: dict[str, Agent] = {}
    for agent, names in AGENT_SETS:
        for name in names:
            for key in _sets(policy, name):
                agents.setdefault(key, agent)
    return PolicyIndex(
        excluded=excluded,
        lab_analyte=MappingProxyType({k: v for k, v in labs.items() if k not in excluded}),
        concepts=MappingProxyType({k: frozenset(v) for k, v in concepts.items()}),
        agent=MappingProxyType({k: v for k, v in agents.items() if k not in excluded}),
        b12_injectable=_sets(policy, "VS_B12_IM"),
        b12_oral=_sets(policy, "VS_B12_ORAL"),
        any_agent_name=TextMatch(
            tuple(
                sorted(
                    {
                        word
                        for agent in AGENT_ORDER
                        if (match := policy.text_match.get(agent.value)) is not None
                        for word in match.include
                    }
                )
            ),
            (),
        ),
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
