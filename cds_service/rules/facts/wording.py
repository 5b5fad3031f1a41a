"""How every card says a date, an interval, a dose, a result, a condition or a medicine.

One place, so cards read alike: a condition names its code once ("Pernicious anemia
(SNOMED 84027009; condition, active, since 2020-03-01)"), a medicine is named as the order
names it and its route is not repeated when the name already says it.
"""

from __future__ import annotations

from cds_service.record.model import (
    Diagnosis,
    FuzzyDate,
    LabResult,
    MedicationUse,
    ProcedureRecord,
    Route,
    Source,
)

DAYS_PER_MONTH = 30.44

SYSTEMS = {
    "http://snomed.info/sct": "SNOMED",
    "http://hl7.org/fhir/sid/icd-10-cm": "ICD-10-CM",
    "http://hl7.org/fhir/sid/icd-10": "ICD-10",
    "http://www.cms.gov/Medicare/Coding/ICD10": "ICD-10-PCS",
    "http://loinc.org": "LOINC",
    "http://www.nlm.nih.gov/research/umls/rxnorm": "RxNorm",
    "http://www.whocc.no/atc": "ATC",
    "https://dmd.nhs.uk": "dm+d",
}
# Words in a medicine's name that already say its route.
_ROUTE_WORDS = {
    Route.INJECTION: ("inject", "ampoule", "ampule", "vial", "syringe", "intramuscular"),
    Route.ORAL: ("oral", "tablet", "capsule", "lozenge", "chewable", "by mouth"),
    Route.SUBLINGUAL: ("sublingual",),
    Route.NASAL: ("nasal",),
}


def when_text(when: FuzzyDate | None) -> str:
    return when.text if when is not None else "date unknown"


def days_ago_text(days: int) -> str:
    return "today" if days <= 0 else ("1 day ago" if days == 1 else f"{days} days ago")


def prescribing_unit(days: float) -> tuple[int, str]:
    """An interval in the unit a prescriber writes it: (3, "mo"), (12, "wk") or (2, "d")."""
    rounded = round(days)
    months = days / DAYS_PER_MONTH
    if round(months) >= 1 and abs(months - round(months)) < 0.05:
        return round(months), "mo"
    if rounded % 7 == 0 and rounded >= 7:
        return rounded // 7, "wk"
    return rounded, "d"


_UNIT_WORDS = {"mo": "month", "wk": "week", "d": "day"}


def interval_text(days: float) -> str:
    """Human interval: "3 months", "12 weeks", "2 days"."""
    n, unit = prescribing_unit(days)
    return f"{n} {_UNIT_WORDS[unit]}{'' if n == 1 else 's'}"


def dose_text(mg: float) -> str:
    """1 mg, or 50 micrograms: oral B12 strengths read better in the unit on the box."""
    return f"{mg * 1000:g} micrograms" if mg < 1 else f"{mg:g} mg"


def code_text(key: str) -> str:
    """'SNOMED 84027009' for 'http://snomed.info/sct|84027009'; '' for words-only matches."""
    system, _, value = key.rpartition("|")
    if system == "text":
        return ""
    return f"{SYSTEMS.get(system, 'local code')} {value}"


def lab_line(result: LabResult, label: str) -> str:
    converted = result.normalised()
    shown = result.shown if result.shown and result.shown != converted else ""
    extra = f" (reported as {shown})" if shown else ""
    note = f"; {result.note}" if result.note else ""
    return f"{label} {converted}{extra} on {result.when.text}{note}"


def condition_line(item: Diagnosis | ProcedureRecord) -> str:
    """The item as recorded, with the code that led to it, once."""
    code = code_text(item.code)
    where = f", {item.qualifier}" if item.qualifier else ""
    if isinstance(item, Diagnosis):
        status = f", {item.clinical_status}" if item.clinical_status else ""
        how = f"{code}; condition" if code else "condition, by its words"
        return f"{item.display}{where} ({how}{status}, since {when_text(item.first_known)})"
    how = f"{code}; procedure" if code else "procedure, by its words"
    return f"{item.display}{where} ({how}, {when_text(item.performed)})"


def says_route(name: str, route: Route) -> bool:
    low = name.lower()
    return any(word in low for word in _ROUTE_WORDS.get(route, ()))


def med_line(med: MedicationUse) -> str:
    parts = [med.name]
    if med.route is not Route.UNKNOWN and not says_route(med.name, med.route):
        parts.append(med.route.value)
    if med.interval_days:
        guess = " (read from free text)" if med.interval_from_text else ""
        parts.append(f"every {interval_text(med.interval_days)}{guess}")
    kind = {
        Source.REQUEST: "order",
        Source.STATEMENT: "statement",
        Source.ADMINISTRATION: "given",
    }[med.source]
    status = f" {med.status}" if med.status and med.source is not Source.ADMINISTRATION else ""
    return f"{', '.join(parts)} ({kind}{status}, {when_text(med.start)})"
