"""Dosing intervals in days, from `Timing.repeat`, a timing code, or (a guess) free text.

`interval_days` is the longest gap the order allows: periodMax wins over period, and a
range in text ("every 2-3 months") takes its upper end, so a rule about intervals that
are too long never flags an order that is within bounds.
"""

from __future__ import annotations

import re
from typing import Any

from cds_service.record.jsonish import JSON, number, obj, objs, text

MONTH_DAYS = 30.44
YEAR_DAYS = 365.25

# FHIR UnitsOfTime (and the UCUM/English spellings seen in Duration.unit).
UNIT_DAYS: dict[str, float] = {
    "s": 1 / 86400,
    "sec": 1 / 86400,
    "second": 1 / 86400,
    "min": 1 / 1440,
    "minute": 1 / 1440,
    "h": 1 / 24,
    "hr": 1 / 24,
    "hour": 1 / 24,
    "d": 1.0,
    "day": 1.0,
    "wk": 7.0,
    "w": 7.0,
    "week": 7.0,
    "mo": MONTH_DAYS,
    "month": MONTH_DAYS,
    "a": YEAR_DAYS,
    "y": YEAR_DAYS,
    "yr": YEAR_DAYS,
    "year": YEAR_DAYS,
}

# HL7 v3 GTSAbbreviation codes used in Timing.code.
CODE_DAYS: dict[str, float] = {
    "QD": 1.0,
    "AM": 1.0,
    "PM": 1.0,
    "BED": 1.0,
    "BID": 1 / 2,
    "TID": 1 / 3,
    "QID": 1 / 4,
    "QOD": 2.0,
    "Q1H": 1 / 24,
    "Q2H": 2 / 24,
    "Q3H": 3 / 24,
    "Q4H": 4 / 24,
    "Q6H": 6 / 24,
    "Q8H": 8 / 24,
    "WK": 7.0,
    "MO": MONTH_DAYS,
}

_MAX_DAYS = 100 * YEAR_DAYS


def unit_days(unit: Any) -> float | None:
    """Days in one FHIR/UCUM time unit ("wk", "mo", "weeks", "Months"...)."""
    word = text(unit)
    if word is None:
        return None
    key = word.lower().rstrip(".")
    if key in UNIT_DAYS:
        return UNIT_DAYS[key]
    if key.endswith("s") and key[:-1] in UNIT_DAYS:
        return UNIT_DAYS[key[:-1]]
    return None


_MIN_DAYS = 0.001  # about a minute and a half: anything shorter is junk, not a schedule


def _sane(days: float | None) -> float | None:
    return days if days is not None and _MIN_DAYS <= days <= _MAX_DAYS else None


def repeat_interval(repeat: JSON | None) -> float | None:
    """period (or periodMax) / frequency, in days, from a `Timing.repeat`."""
    if repeat is None:
        return None
    period = number(repeat.get("periodMax"))
    if period is None or period <= 0:
        period = number(repeat.get("period"))
    per_unit = unit_days(repeat.get("periodUnit"))
    if period is None or period <= 0 or per_unit is None:
        return None
    frequency = number(repeat.get("frequency"))
    if frequency is None:
        frequency = 1.0
    if frequency <= 0:
        return None
    return _sane(period * per_unit / frequency)


def repeat_per_day(repeat: JSON | None) -> float | None:
    """Administrations a day from a `Timing.repeat`, the fewest it allows (frequency over
    period, not frequencyMax over periodMax): what a dose-per-day floor can rest on."""
    if repeat is None:
        return None
    period = number(repeat.get("period"))
    per_unit = unit_days(repeat.get("periodUnit"))
    if period is None or period <= 0 or per_unit is None:
        return None
    frequency = number(repeat.get("frequency"))
    if frequency is None:
        frequency = 1.0
    if frequency <= 0:
        return None
    days = _sane(period * per_unit / frequency)
    return None if days is None else 1 / days


def code_interval(timing_code: Any) -> float | None:
    """Interval for a structured `Timing.code` (GTSAbbreviation), if recognised."""
    concept = obj(timing_code)
    if concept is None:
        return None
    for coding in objs(concept.get("coding")):
        value = text(coding.get("code"))
        if value is not None and value.upper() in CODE_DAYS:
            return CODE_DAYS[value.upper()]
    return None


def duration_days(duration: Any) -> float | None:
    """A FHIR Duration in days."""
    found = obj(duration)
    if found is None:
        return None
    value = number(found.get("value"))
    per_unit = unit_days(found.get("code")) or unit_days(found.get("unit"))
    if value is None or per_unit is None or value < 0:
        return None
    days = value * per_unit
    return days if days <= _MAX_DAYS else None


# --- free text ---------------------------------------------------------------------------

_WORD_NUMBERS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
}
_NUM = r"(\d{1,3}(?:\.\d+)?|" + "|".join(_WORD_NUMBERS) + ")"
_RANGE = r"\s*(?:-|–|to|or)\s*"
_UNIT = r"(days?|weeks?|wks?|months?|mos?|years?|yrs?)"
_UNIT_ADVERB = {"daily": 1.0, "weekly": 7.0, "monthly": MONTH_DAYS, "yearly": YEAR_DAYS}


def _num(word: str) -> float:
    return float(_WORD_NUMBERS.get(word, 0) or word)


def _unit_word(word: str) -> float:
    key = word[:-1] if word.endswith("s") and word not in ("mos",) else word
    return {"wk": 7.0, "mo": MONTH_DAYS, "mos": MONTH_DAYS, "yr": YEAR_DAYS}.get(
        key, UNIT_DAYS.get(key, 1.0)
    )


def _every_range(m: re.Match[str]) -> float:
    return max(_num(m[1]), _num(m[2])) * _unit_word(m[3])


def _every_n(m: re.Match[str]) -> float:
    return _num(m[1]) * _unit_word(m[2])


def _q_n(m: re.Match[str]) -> float:
    unit = {"d": 1.0, "w": 7.0, "wk": 7.0, "wks": 7.0, "m": MONTH_DAYS, "mo": MONTH_DAYS}
    return _num(m[1]) * unit.get(m[2], 1 / 24)


def _n_ly_range(m: re.Match[str]) -> float:
    return max(_num(m[1]), _num(m[2])) * _UNIT_ADVERB[m[3]]


def _n_ly(m: re.Match[str]) -> float:
    return _num(m[1]) * _UNIT_ADVERB[m[2]]


def _fixed(days: float) -> Any:
    return lambda _m: days


_TEXT_PATTERNS: tuple[tuple[re.Pattern[str], Any], ...] = tuple(
    (re.compile(pattern), read)
    for pattern, read in (
        (rf"\bevery\s+{_NUM}{_RANGE}{_NUM}\s*{_UNIT}\b", _every_range),
        (rf"\bevery\s+{_NUM}\s*{_UNIT}\b", _every_n),
        (r"\bq\s?(\d{1,3})\s?(d|wks?|wk|w|mo|m|hrs?|h)\b", _q_n),
        (rf"\b{_NUM}{_RANGE}{_NUM}[\s-]*(weekly|monthly|yearly)\b", _n_ly_range),
        (rf"\b{_NUM}[\s-]+(weekly|monthly|yearly)\b", _n_ly),
        (r"\b(every\s+(other|second|alternate)\s+day|alternate\s+days?|qod)\b", _fixed(2.0)),
        (
            r"\b(every\s+(other|second|alternate)\s+week|fortnightly|every\s+fortnight)\b",
            _fixed(14.0),
        ),
        (
            r"\b(twice|two\s+times)\s+(a|per|each)?\s*day\b|\btwice\s+daily\b|\b(bd|bid)\b",
            _fixed(0.5),
        ),
        (r"\b(three|3)\s+times\s+(a|per|each)?\s*day\b|\b(tds|tid)\b", _fixed(1 / 3)),
        (r"\b(four|4)\s+times\s+(a|per|each)?\s*day\b|\b(qds|qid)\b", _fixed(0.25)),
        (r"\b(once\s+(a|per|each)\s+month|every\s+month|monthly)\b", _fixed(MONTH_DAYS)),
        (r"\b(once\s+(a|per|each)\s+week|every\s+week|weekly)\b", _fixed(7.0)),
        (r"\b(once\s+(a|per|each)\s+year|every\s+year|yearly|annually)\b", _fixed(YEAR_DAYS)),
        (r"\bquarterly\b", _fixed(3 * MONTH_DAYS)),
        (
            r"\b(once\s+(a|per|each)\s+day|every\s+day|once\s+daily|daily|nightly|"
            r"every\s+(morning|evening|night))\b",
            _fixed(1.0),
        ),
    )
)


def text_interval(words: str | None) -> float | None:
    """A guessed interval from free-text directions; the longer end of any range."""
    if not words:
        return None
    low = words.lower()[:500]
    for pattern, read in _TEXT_PATTERNS:
        match = pattern.search(low)
        if match is not None:
            days: float | None = read(match)
            return _sane(days)
    return None
