"""Lab units -> the one unit per analyte in `UNIT_OF` (clinical.md B.2).

Only units listed here are converted; anything else is refused, never guessed: the two
common B12 units differ by about 35 %, enough to move a result across a threshold.
"""

from __future__ import annotations

from collections.abc import Mapping

from cds_service.record.model import Analyte

B12_PG_PER_PMOL = 1.355  # cyanocobalamin MW 1355.4 g/mol; NG239's 180 ng/L = 133 pmol/L
FOLATE_NMOL_PER_NG = 2.266  # folic acid MW 441.4 g/mol
HCY_MG_PER_UMOL = 0.1352  # homocysteine MW 135.18 g/mol
HB_G_PER_MMOL = 16.11  # haemoglobin monomer, g/L per mmol/L

_MOLAR_PICO = {"pmol/l": 1.0, "nmol/l": 1000.0}
_FOLATE = {"nmol/l": 1.0, "ng/ml": FOLATE_NMOL_PER_NG, "ug/l": FOLATE_NMOL_PER_NG}
_SCORE: Mapping[str, float] = {}  # scores: any unit (or none) is read as points

FACTORS: Mapping[Analyte, Mapping[str, float]] = {
    Analyte.B12: {
        **_MOLAR_PICO,
        "pg/ml": 1 / B12_PG_PER_PMOL,
        "ng/l": 1 / B12_PG_PER_PMOL,
        "ng/ml": 1000 / B12_PG_PER_PMOL,
    },
    Analyte.HOLOTC: _MOLAR_PICO,
    Analyte.MMA: {"umol/l": 1.0, "nmol/ml": 1.0, "nmol/l": 0.001, "mmol/l": 1000.0},
    Analyte.HOMOCYSTEINE: {
        "umol/l": 1.0,
        "nmol/ml": 1.0,
        "mg/l": 1 / HCY_MG_PER_UMOL,
    },
    Analyte.FOLATE: _FOLATE,
    Analyte.RBC_FOLATE: _FOLATE,
    Analyte.HB: {"g/l": 1.0, "g/dl": 10.0, "mmol/l": HB_G_PER_MMOL, "mg/ml": 1.0},
    Analyte.MCV: {"fl": 1.0, "um3": 1.0},
    Analyte.PHQ9: _SCORE,
    Analyte.PHQ9_ITEM9: _SCORE,
}

# Questionnaire scores: the unit is optional and never changes the number.
UNITLESS_OK = frozenset({Analyte.PHQ9, Analyte.PHQ9_ITEM9})


def unit_key(unit: str) -> str:
    """A canonical spelling: lower case, no spaces, micro as 'u', 'mcg' as 'ug'."""
    key = unit.strip().lower().replace(" ", "")
    key = key.replace("µ", "u").replace("μ", "u").replace("micromol", "umol")
    key = key.replace("mcmol", "umol").replace("mcg", "ug").replace("micrograms", "ug")
    key = key.replace("microgram", "ug").replace("litre", "l").replace("liter", "l")
    return key.replace("³", "3").replace("^3", "3")


_FACTOR_CACHE: dict[tuple[Analyte, str], float | None] = {}
_FACTOR_CACHE_MAX = 4096  # unit spellings are a small vocabulary; odd input is not kept


def factor(analyte: Analyte, unit: str | None) -> float | None:
    """Multiplier from `unit` to the analyte's normalised unit, or None when unknown."""
    if analyte in UNITLESS_OK:
        return 1.0
    if unit is None:
        return None
    key = (analyte, unit)
    try:
        return _FACTOR_CACHE[key]
    except KeyError:
        pass
    found = FACTORS[analyte].get(unit_key(unit))
    if len(_FACTOR_CACHE) < _FACTOR_CACHE_MAX and len(unit) <= 40:
        _FACTOR_CACHE[key] = found
    return found
