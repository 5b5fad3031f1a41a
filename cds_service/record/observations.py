"""Observation -> `LabResult`, for the analytes the rules read and nothing else.

The code check comes first and is a dict lookup, so the many unrelated Observations in an
unfiltered bundle cost almost nothing. A result whose unit is missing or unknown is
skipped and said so (a `DataGap`), never guessed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from cds_service.record.dates import fuzzy_date, partial_words
from cds_service.record.index import PolicyIndex
from cds_service.record.jsonish import (
    CANONICAL_SYSTEMS,
    JSON,
    code,
    coding_key,
    coding_keys,
    concept_texts,
    number,
    obj,
    text,
)
from cds_service.record.model import Analyte, DataGap, FuzzyDate, LabResult
from cds_service.record.units import B12_PG_PER_PMOL, factor
from cds_service.wire import observation as wire

NEVER_COUNT = frozenset({"entered-in-error", "cancelled", "registered"})
COMPARATORS = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "≤": "<=", "≥": ">="}

LABEL: dict[Analyte, str] = {
    Analyte.B12: "B12",
    Analyte.HOLOTC: "Active B12 (holotranscobalamin)",
    Analyte.MMA: "MMA",
    Analyte.HOMOCYSTEINE: "Homocysteine",
    Analyte.FOLATE: "Serum folate",
    Analyte.RBC_FOLATE: "Red cell folate",
    Analyte.HB: "Haemoglobin",
    Analyte.MCV: "MCV",
    Analyte.PHQ9: "PHQ-9",
    Analyte.PHQ9_ITEM9: "PHQ-9 item 9",
}
_SCORE_MAX = {Analyte.PHQ9: 27.0, Analyte.PHQ9_ITEM9: 3.0}
# Converted values keep the precision labs report in the normalised unit (MMA is < 1 umol/L).
_DECIMALS = {Analyte.MMA: 3}

_VALUE_STRING = re.compile(r"^\s*(<=|>=|<|>|≤|≥)?\s*(\d{1,9}(?:[.,]\d{1,9})?)\s*([^\d\s].{0,30})?$")


def analyte_of(resource: JSON, index: PolicyIndex) -> tuple[Analyte, str] | None:
    """The analyte and LOINC code, or None (also None when any coding is EXCLUDED).

    Runs on every Observation of the call, wanted or not: the plain single-coding shape
    servers send is looked up directly, anything else goes through `coding_keys`.
    """
    concept = resource.get("code")
    codings = concept.get("coding") if type(concept) is dict else None
    if type(codings) is list and len(codings) == 1 and type(codings[0]) is dict:
        system, value = codings[0].get("system"), codings[0].get("code")
        if type(system) is str and system in CANONICAL_SYSTEMS and type(value) is str:
            key = f"{system}|{value}"
            if key in index.lab_analyte and key not in index.excluded:
                return index.lab_analyte[key], value
            if value and value == value.strip():
                return None  # exactly as coding_keys would read it: not a lab we read
    found: tuple[Analyte, str] | None = None
    for key in coding_keys(concept):
        if key in index.excluded:
            return None
        if found is None and key in index.lab_analyte:
            found = (index.lab_analyte[key], key.rsplit("|", 1)[1])
    return found


def _decimal(digits: str) -> float:
    """'1,5' is one and a half; '2,000' is two thousand (a comma before exactly 3 digits)."""
    head, _, tail = digits.partition(",")
    if tail and len(tail) == 3:
        return float(head + tail)
    return float(digits.replace(",", "."))


def _normal(value: float, factor_: float, analyte: Analyte) -> float:
    return round(value * factor_, _DECIMALS.get(analyte, 1))


def _fmt(value: float) -> str:
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else str(value)


def _quantity_unit(quantity: JSON, analyte: Analyte) -> tuple[str | None, float | None]:
    """The unit to show and its conversion factor: the UCUM code first, then `unit`."""
    return _unit_of(text(quantity.get("code")), text(quantity.get("unit")), analyte)


def _unit_of(
    ucum: str | None, label: str | None, analyte: Analyte
) -> tuple[str | None, float | None]:
    for candidate in (ucum, label):
        if candidate is not None:
            found = factor(analyte, candidate)
            if found is not None:
                return label or candidate, found
    return label or ucum, factor(analyte, None)


def _value(
    resource: JSON, analyte: Analyte
) -> tuple[float, str | None, str | None, float | None, str] | str:
    """(value, comparator, unit shown, factor, shown) or the reason it cannot be read."""
    quantity = obj(resource.get("valueQuantity"))
    if quantity is not None:
        return _quantity_value(
            number(quantity.get("value")),
            text(quantity.get("comparator")),
            text(quantity.get("code")),
            text(quantity.get("unit")),
            analyte,
        )
    if "valueInteger" in resource:
        return _integer_value(number(resource.get("valueInteger")), analyte)
    return _string_value(resource.get("valueString"), analyte)


def _string_value(
    raw: Any, analyte: Analyte
) -> tuple[float, str | None, str | None, float | None, str] | str:
    if isinstance(raw, str) and len(raw) <= 60:
        match = _VALUE_STRING.match(raw)
        if match is None:
            return "no numeric value"
        value = _decimal(match[2])
        unit = text(match[3])
        found = factor(analyte, unit)
        return value, COMPARATORS.get(match[1] or ""), unit, found, raw.strip()
    return "no numeric value"


def _quantity_value(
    value: float | None,
    raw_comparator: str | None,
    ucum: str | None,
    label: str | None,
    analyte: Analyte,
) -> tuple[float, str | None, str | None, float | None, str] | str:
    if value is None:
        return "no numeric value"
    comparator = COMPARATORS.get(raw_comparator) if raw_comparator else None
    unit, found = _unit_of(ucum, label, analyte)
    shown = f"{comparator or ''}{_fmt(value)}" + (f" {unit}" if unit else "")
    return value, comparator, unit, found, shown


def _integer_value(
    value: float | None, analyte: Analyte
) -> tuple[float, str | None, str | None, float | None, str] | str:
    if value is None:
        return "no numeric value"
    return value, None, None, factor(analyte, None), _fmt(value)


def _effective(resource: JSON) -> tuple[Any, bool]:
    """The raw collection date (or `issued` as a fallback) and whether it is the fallback."""
    for key in ("effectiveDateTime", "effectiveInstant"):
        if resource.get(key) is not None:
            return resource.get(key), False
    period = obj(resource.get("effectivePeriod"))
    if period is not None and period.get("start") is not None:
        return period.get("start"), False
    if period is not None and period.get("end") is not None:
        return period.get("end"), False
    if resource.get("issued") is not None:
        return resource.get("issued"), True
    return None, False


def observation_date(resource: JSON) -> Any:
    """The raw date `read_observation` dates a result by (collection date, else issued)."""
    return _effective(resource)[0]


def _reference_high(resource: JSON, analyte: Analyte, fallback: float | None) -> float | None:
    ranges = resource.get("referenceRange")
    first = obj(ranges[0] if isinstance(ranges, list) and ranges else ranges)
    high = obj(first.get("high")) if first is not None else None
    if high is None:
        return None
    return _high_of(
        number(high.get("value")), text(high.get("code")), text(high.get("unit")), analyte, fallback
    )


def _high_of(
    value: float | None,
    ucum: str | None,
    label: str | None,
    analyte: Analyte,
    fallback: float | None,
) -> float | None:
    if value is None:
        return None
    found = fallback if (ucum or label) is None else _unit_of(ucum, label, analyte)[1]
    return _normal(value, found, analyte) if found is not None else None


def read_observation(
    resource: JSON,
    ref: str,
    index: PolicyIndex,
    gaps: list[DataGap],
    hit: tuple[Analyte, str] | None = None,
) -> LabResult | None:
    """One lab result, or None (with a gap when a relevant result could not be used).

    `hit` is `analyte_of(resource, index)` when the caller has already worked it out.
    """
    if hit is None:
        hit = analyte_of(resource, index)
    if hit is None:
        return None
    if code(resource.get("status")) in NEVER_COUNT:
        return None
    analyte = hit[0]
    raw_when, from_issued = _effective(resource)
    when: FuzzyDate | None = fuzzy_date(raw_when)
    if when is None:
        _undated(analyte, raw_when, gaps)
        return None
    if resource.get("dataAbsentReason") is not None:
        absent = resource.get("dataAbsentReason")
        _no_value(analyte, when, next(concept_texts(absent), None) or code(absent), gaps)
        return None
    read = _value(resource, analyte)
    high = (
        (lambda found: _reference_high(resource, analyte, found))
        if "referenceRange" in resource
        else _no_high
    )
    return _lab(hit, ref, when, from_issued, read, high, gaps)


def _no_high(found: float | None) -> float | None:
    return None


def _no_value(analyte: Analyte, when: FuzzyDate, why: str | None, gaps: list[DataGap]) -> None:
    gaps.append(
        DataGap(
            analyte.value, f"{LABEL[analyte]} result of {when} has no value ({why or 'not given'})"
        )
    )


def _undated(analyte: Analyte, raw_when: Any, gaps: list[DataGap]) -> None:
    reason = "no date" if raw_when is None else "its date is not a valid date"
    gaps.append(DataGap(analyte.value, f"{LABEL[analyte]} result skipped: {reason}"))


def _lab(
    hit: tuple[Analyte, str],
    ref: str,
    when: FuzzyDate,
    from_issued: bool,
    read: tuple[float, str | None, str | None, float | None, str] | str,
    high: Callable[[float | None], float | None],
    gaps: list[DataGap],
) -> LabResult | None:
    """The result once its value is read (the same for plain and typed JSON)."""
    analyte, loinc = hit
    label = LABEL[analyte]
    if isinstance(read, str):
        gaps.append(DataGap(analyte.value, f"{label} result of {when} skipped: {read}"))
        return None
    value, comparator, unit, found, shown = read
    if found is None:
        reason = "no unit" if unit is None else f"unit '{unit[:30]}' not recognised"
        gaps.append(DataGap(analyte.value, f"{label} result of {when} skipped: {reason}"))
        return None
    normal = _normal(value, found, analyte)
    top = _SCORE_MAX.get(analyte)
    if not math.isfinite(normal) or normal < 0 or (top is not None and normal > top):
        gaps.append(
            DataGap(analyte.value, f"{label} result of {when} skipped: {shown} is out of range")
        )
        return None
    partial = partial_words(when)
    if partial is not None:
        gaps.append(DataGap(analyte.value, f"{label} result dated {when} ({partial})"))
    return LabResult(
        ref=ref,
        analyte=analyte,
        value=normal,
        comparator=comparator,
        when=when,
        code=loinc,
        shown=shown,
        reference_high=high(found),
        note="date taken from Observation.issued (no collection date)" if from_issued else None,
        reported_ng_l=_mass_ng_l(value, found, analyte),
    )


def _mass_ng_l(value: float, to_pmol: float, analyte: Analyte) -> float | None:
    """The reported B12 value in ng/L when the lab used a mass unit (thresholds exist in both)."""
    if analyte is not Analyte.B12:
        return None
    ng_per_unit = round(to_pmol * B12_PG_PER_PMOL, 6)  # 1 for pg/mL and ng/L, 1000 for ng/mL
    return value * ng_per_unit if ng_per_unit in (1.0, 1000.0) else None


# --- the same, from the typed Observation (`wire.observation`) ----------------------------
# Each function below mirrors its plain-JSON twin above over fields whose JSON types the
# decoder has already checked, and hands the values to the same helpers (`_quantity_value`,
# `_high_of`, `_lab`...). `tests/record/test_wire_differential.py` holds the two equal.


def wire_analyte_of(found: wire.Observation, index: PolicyIndex) -> tuple[Analyte, str] | None:
    concept = found.code
    codings = concept.coding if concept is not None else None
    if not codings:
        return None
    if len(codings) == 1:
        system, value = codings[0].system, codings[0].code
        if system is not None and system in CANONICAL_SYSTEMS and value is not None:
            key = f"{system}|{value}"
            if key in index.lab_analyte and key not in index.excluded:
                return index.lab_analyte[key], value
            if value and value == value.strip():
                return None
    hit: tuple[Analyte, str] | None = None
    for coding in codings:
        found_key = coding_key(coding.system, coding.code)
        if found_key is None:
            continue
        if found_key in index.excluded:
            return None
        if hit is None and found_key in index.lab_analyte:
            hit = (index.lab_analyte[found_key], found_key.rsplit("|", 1)[1])
    return hit


def _wire_effective(found: wire.Observation) -> tuple[str | None, bool]:
    if found.effectiveDateTime is not None:
        return found.effectiveDateTime, False
    if found.effectiveInstant is not None:
        return found.effectiveInstant, False
    period = found.effectivePeriod
    if period is not None and period.start is not None:
        return period.start, False
    if period is not None and period.end is not None:
        return period.end, False
    if found.issued is not None:
        return found.issued, True
    return None, False


def wire_observation_date(found: wire.Observation) -> str | None:
    return _wire_effective(found)[0]


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _wire_words(concept: wire.Concept) -> str | None:
    """`concept_texts` then `code`, over a typed CodeableConcept."""
    label = text(concept.text)
    if label is not None:
        return label
    for coding in concept.coding or ():
        display = text(coding.display)
        if display is not None:
            return display
    for coding in concept.coding or ():
        value = text(coding.code)
        if value is not None:
            return value.lower()
    return None


def read_wire_observation(
    found: wire.Observation,
    ref: str,
    index: PolicyIndex,
    gaps: list[DataGap],
    hit: tuple[Analyte, str] | None = None,
) -> LabResult | None:
    if hit is None:
        hit = wire_analyte_of(found, index)
    if hit is None:
        return None
    if code(found.status) in NEVER_COUNT:
        return None
    analyte = hit[0]
    raw_when, from_issued = _wire_effective(found)
    when = fuzzy_date(raw_when)
    if when is None:
        _undated(analyte, raw_when, gaps)
        return None
    if found.dataAbsentReason is not None:
        _no_value(analyte, when, _wire_words(found.dataAbsentReason), gaps)
        return None
    quantity = found.valueQuantity
    if quantity is not None:
        read = _quantity_value(
            _finite(quantity.value),
            text(quantity.comparator),
            text(quantity.code),
            text(quantity.unit),
            analyte,
        )
    elif found.valueInteger is not None:
        read = _integer_value(_finite(float(found.valueInteger)), analyte)
    else:
        read = _string_value(found.valueString, analyte)
    ranges = found.referenceRange
    high_q = ranges[0].high if ranges else None

    def high(fallback: float | None) -> float | None:
        if high_q is None:
            return None
        return _high_of(
            _finite(high_q.value), text(high_q.code), text(high_q.unit), analyte, fallback
        )

    return _lab(hit, ref, when, from_issued, read, high, gaps)
