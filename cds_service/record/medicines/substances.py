"""Which substance a name means: normalised spellings, synonyms, salts and a few brands.

Terminology knowledge, not policy: cyanocobalamin is vitamin B12 however an EHR spells it
("Vitamin B 12", "B-12", "vit B12"), mecobalamin is methylcobalamin, and folinic acid,
levofolinic acid and levomefolate are three substances, none of them folic acid. Codes
live in the policy's value sets and the shipped RxNorm table; this module reads words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from cds_service.record.medicines.model import COBALAMINS, FOLATE_ANALOGUES, Substance

S = Substance

# Whole-word synonyms, lower case, after `normalise` (so "vitamin b12" covers "Vitamin B 12").
SYNONYMS: Mapping[str, Substance] = {
    "vitamin b12": S.CYANOCOBALAMIN,
    "cyanocobalamin": S.CYANOCOBALAMIN,
    "cyanocobalamine": S.CYANOCOBALAMIN,
    "cobalamin": S.CYANOCOBALAMIN,  # unqualified: RxNorm's "vitamin B12"
    "cobalamine": S.CYANOCOBALAMIN,
    "hydroxocobalamin": S.HYDROXOCOBALAMIN,
    "hydroxycobalamin": S.HYDROXOCOBALAMIN,  # a common misspelling
    "hydroxocobalamine": S.HYDROXOCOBALAMIN,
    "vitamin b12a": S.HYDROXOCOBALAMIN,
    "vitamin b12b": S.HYDROXOCOBALAMIN,
    "methylcobalamin": S.METHYLCOBALAMIN,
    "mecobalamin": S.METHYLCOBALAMIN,
    "methylcobalamine": S.METHYLCOBALAMIN,
    "cobamamide": S.ADENOSYLCOBALAMIN,
    "adenosylcobalamin": S.ADENOSYLCOBALAMIN,
    "dibencozide": S.ADENOSYLCOBALAMIN,
    "folic acid": S.FOLIC_ACID,
    "folicacid": S.FOLIC_ACID,
    "folacin": S.FOLIC_ACID,
    "pteroylglutamic acid": S.FOLIC_ACID,
    "vitamin b9": S.FOLIC_ACID,
    "folate": S.FOLIC_ACID,  # bare "folate" on an order is folic acid (see `_resolve`)
    "folinic acid": S.FOLINIC_ACID,
    "folinate": S.FOLINIC_ACID,
    "leucovorin": S.FOLINIC_ACID,
    "citrovorum factor": S.FOLINIC_ACID,
    "levofolinic acid": S.LEVOFOLINIC_ACID,
    "levofolinate": S.LEVOFOLINIC_ACID,
    "levoleucovorin": S.LEVOFOLINIC_ACID,
    "levomefolate": S.LEVOMEFOLATE,
    "levomefolic acid": S.LEVOMEFOLATE,
    "l-methylfolate": S.LEVOMEFOLATE,
    "l methylfolate": S.LEVOMEFOLATE,
    "methylfolate": S.LEVOMEFOLATE,
    "l-5-methyltetrahydrofolate": S.LEVOMEFOLATE,
    "5-methyltetrahydrofolate": S.LEVOMEFOLATE,
    "5-mthf": S.LEVOMEFOLATE,
    "metafolin": S.LEVOMEFOLATE,
    "metformin": S.METFORMIN,
    "omeprazole": S.OMEPRAZOLE,
    "esomeprazole": S.ESOMEPRAZOLE,
    "lansoprazole": S.LANSOPRAZOLE,
    "dexlansoprazole": S.DEXLANSOPRAZOLE,
    "pantoprazole": S.PANTOPRAZOLE,
    "rabeprazole": S.RABEPRAZOLE,
}

# Brands that name a substance on their own (the RxNorm table adds its own brands at load).
BRANDS: Mapping[str, tuple[Substance, ...]] = {
    "neo-cytamen": (S.HYDROXOCOBALAMIN,),
    "cobalin-h": (S.HYDROXOCOBALAMIN,),
    "cytamen": (S.CYANOCOBALAMIN,),
    "cyanokit": (S.HYDROXOCOBALAMIN,),
    "nascobal": (S.CYANOCOBALAMIN,),
    "glucophage": (S.METFORMIN,),
}

# Counter-ions and hydrate words: "metformin hydrochloride" is metformin, "calcium folinate"
# and "leucovorin calcium" are folinic acid.
SALTS = frozenset(
    {
        "hydrochloride",
        "hcl",
        "calcium",
        "sodium",
        "disodium",
        "potassium",
        "magnesium",
        "acetate",
        "chloride",
        "phosphate",
        "anhydrous",
        "monohydrate",
        "dihydrate",
        "trihydrate",
        "hydrate",
        "sesquihydrate",
        "pentahydrate",
        "salt",
    }
)

_SPACES = re.compile(r"\s+")
# "Vitamin B 12", "vit. B-12", "VitB12", "B12", "B-12", "B 12" -> "vitamin b12"
_B12 = re.compile(r"\b(?:vit(?:amin)?\.?\s*)?b[\s\-]?12(?=[^0-9a-z]|$|[ab]\b)")
_MICRO = str.maketrans({"µ": "u", "μ": "u", "–": "-", "—": "-", "’": "'", "\u00a0": " "})


def normalise(text: str) -> str:
    """Lower case, one space, one spelling of micro, B12 written 'vitamin b12'."""
    low = _SPACES.sub(" ", text.translate(_MICRO).lower()).strip()
    if "12" in low:
        low = _B12.sub("vitamin b12", low)
    return low


def _pattern(words: Iterable[str]) -> re.Pattern[str]:
    ordered = sorted(set(words), key=len, reverse=True)  # longest first: "folinic acid" > "folic"
    alternation = "|".join(re.escape(w) for w in ordered)
    return re.compile(rf"(?<![a-z0-9\-])(?:{alternation})(?![a-z0-9])")


_SYNONYM_WORDS = _pattern(SYNONYMS)
_GENERIC_B12 = frozenset({"vitamin b12", "cobalamin", "cobalamine"})


def substance_of(name: str) -> Substance | None:
    """The substance a single ingredient name means ("metformin hydrochloride"), or None."""
    found = substances_in(name)
    return found[0] if len(found) == 1 else None


def substances_in(text: str) -> tuple[Substance, ...]:
    """Every substance named in `text` (normalised), in order, each once.

    A generic "vitamin B12" beside a specific cobalamin names that cobalamin ("vitamin B12
    (hydroxocobalamin)"), and a bare "folate" beside a reduced folate names that folate
    ("folate (as L-methylfolate)"): neither adds a substance of its own.
    """
    words = _SYNONYM_WORDS.findall(text)
    if not words:
        stripped = " ".join(w for w in text.split() if w not in SALTS)
        found = SYNONYMS.get(stripped)
        return (found,) if found is not None else ()
    specific_b12 = any(SYNONYMS[w] in COBALAMINS and w not in _GENERIC_B12 for w in words)
    analogue = any(SYNONYMS[w] in FOLATE_ANALOGUES for w in words)
    out: list[Substance] = []
    for word in words:
        substance = SYNONYMS[word]
        if specific_b12 and word in _GENERIC_B12:
            continue
        if analogue and word == "folate":
            continue
        if substance not in out:
            out.append(substance)
    return tuple(out)


def brand_substances(
    brand: str, extra: Mapping[str, tuple[Substance, ...]] = {}
) -> tuple[Substance, ...]:
    """Substances a brand name stands for, from the fixed list and the RxNorm table's brands."""
    key = normalise(brand)
    return BRANDS.get(key) or extra.get(key, ())
