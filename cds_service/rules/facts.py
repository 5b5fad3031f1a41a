"""Clinical facts several rules share, each a small pure function over the record.

These answer the protocol's recurring questions once, in one reviewed place:
is the patient on B12 therapy now, on a maintenance regimen, on IM maintenance;
when was the last injection; which irreversible cause is recorded; is there
neurological involvement; is deficiency documented. Wording helpers for evidence
lines live here too, so every card shows dates and values the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from cds_service.policy import Policy
from cds_service.record.model import (
    Agent,
    Analyte,
    Diagnosis,
    FuzzyDate,
    LabResult,
    MedicationUse,
    PatientRecord,
    ProcedureRecord,
    Route,
    Source,
)

DAYS_PER_MONTH = 30.44
MIN_MAINTENANCE_INTERVAL_DAYS = 28  # shorter ordered intervals are loading, not maintenance

CAUSE_WORDS = {
    "autoimmune": "pernicious anaemia (autoimmune gastritis)",
    "gastric-surgery": "gastric surgery",
    "bariatric": "bariatric/gastric bypass surgery",
    "ileal": "ileal resection or short bowel",
    "inherited": "an inherited B12 malabsorption disorder",
    "postsurgical": "postsurgical malabsorption",
}
LIFELONG_CRITICAL_CAUSES = frozenset({"autoimmune", "gastric-surgery", "ileal"})


# --- wording ----------------------------------------------------------------------------


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


def lab_line(result: LabResult, label: str) -> str:
    converted = result.normalised()
    shown = result.shown if result.shown and result.shown != converted else ""
    extra = f" (reported as {shown})" if shown else ""
    note = f"; {result.note}" if result.note else ""
    return f"{label} {converted}{extra} on {result.when.text}{note}"


def condition_line(item: Diagnosis | ProcedureRecord) -> str:
    if isinstance(item, Diagnosis):
        status = f", {item.clinical_status}" if item.clinical_status else ""
        return f"{item.display} (condition{status}, since {when_text(item.first_known)})"
    return f"{item.display} (procedure, {when_text(item.performed)})"


def med_line(med: MedicationUse) -> str:
    parts = [med.name]
    if med.route is not Route.UNKNOWN:
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


# --- therapy ----------------------------------------------------------------------------


def b12_injections_given(record: PatientRecord) -> tuple[MedicationUse, ...]:
    """Given B12 administrations that were (or may have been) injections, newest first.

    Administrations without a route count: recorded B12 administrations are injections
    in practice, and oral doses are rarely charted as administrations.
    """
    given = [
        m
        for m in record.meds(Agent.B12, Source.ADMINISTRATION)
        if m.was_given and m.route in (Route.INJECTION, Route.UNKNOWN) and m.start is not None
    ]
    given.sort(key=lambda m: (m.start.latest, m.start.earliest) if m.start else (date.min,) * 2)
    return tuple(reversed(given))


def injection_summary(record: PatientRecord) -> tuple[str, ...]:
    """One evidence line: how many injections, first and last date."""
    given = b12_injections_given(record)
    if not given:
        return ()
    first, last = given[-1].start, given[0].start
    span = f", from {first.text} to {last.text}" if first and last and len(given) > 1 else ""
    when = f" on {last.text}" if last and len(given) == 1 else ""
    return (f"{len(given)} B12 injection(s) recorded{span}{when}",)


def last_injection(record: PatientRecord) -> MedicationUse | None:
    given = b12_injections_given(record)
    return given[0] if given else None


def ongoing_b12(record: PatientRecord, today: date) -> tuple[MedicationUse, ...]:
    """Active B12 orders and statements (any route), loading courses included."""
    return tuple(
        m for m in record.meds(Agent.B12, Source.REQUEST, Source.STATEMENT) if m.is_current(today)
    )


def current_b12_therapy(
    record: PatientRecord, policy: Policy, today: date
) -> tuple[MedicationUse, ...]:
    """B12 the patient is on now: an active order/statement, or a dose in the window."""
    window = policy.days("current_therapy_window")
    recent = tuple(
        m
        for m in record.meds(Agent.B12, Source.ADMINISTRATION)
        if m.was_given
        and m.start is not None
        and m.start.earliest <= today  # a partial date ("2026-11") may cover today
        and m.start.days_before(today) <= window
    )
    return ongoing_b12(record, today) + recent


def is_loading_or_one_off(med: MedicationUse) -> bool:
    """A finite course that is not a regimen: a loading course or a single dose.

    A count- or date-limited order at maintenance spacing (12-weekly x 4, a year of
    repeats) is still maintenance: only short spacing or a single dose makes it loading.
    """
    if not med.is_finite_course:
        return False
    if med.repeat_count is not None and med.repeat_count <= 1:
        return True
    if med.interval_days is None or med.interval_days < MIN_MAINTENANCE_INTERVAL_DAYS:
        return True
    return med.bounds_days is not None and med.bounds_days < med.interval_days


def _is_maintenance_order(med: MedicationUse) -> bool:
    if is_loading_or_one_off(med):
        return False
    return med.interval_days is None or med.interval_days >= 1


def maintenance_regimens(record: PatientRecord, today: date) -> tuple[MedicationUse, ...]:
    """Ongoing B12 orders/statements that are a regimen, not a finite loading course."""
    return tuple(m for m in ongoing_b12(record, today) if _is_maintenance_order(m))


ENDED = frozenset({"stopped", "cancelled", "completed", "entered-in-error"})


def maintenance_ended(record: PatientRecord) -> tuple[MedicationUse, ...]:
    """B12 maintenance orders/statements that were stopped, cancelled or completed."""
    return tuple(
        m
        for m in record.meds(Agent.B12, Source.REQUEST, Source.STATEMENT)
        if m.status in ENDED and not is_loading_or_one_off(m)
    )


def injection_pattern(record: PatientRecord) -> bool:
    """Maintenance in practice: the two latest injections are at least 4 weeks apart.

    Only where the record holds no ended maintenance order: once a regimen was stopped, past
    injections no longer mean the patient is on maintenance (other rules judge the stop).
    """
    if maintenance_ended(record):
        return False
    given = b12_injections_given(record)
    if len(given) < 2 or given[0].start is None or given[1].start is None:
        return False
    gap = (given[0].start.earliest - given[1].start.latest).days
    return gap >= MIN_MAINTENANCE_INTERVAL_DAYS


def im_maintenance_regimen(record: PatientRecord, today: date) -> MedicationUse | None:
    """The ongoing injection regimen, if one is ordered or stated."""
    for med in maintenance_regimens(record, today):
        if med.route is Route.INJECTION:
            return med
    return None


def on_im_maintenance(record: PatientRecord, today: date) -> bool:
    return im_maintenance_regimen(record, today) is not None or injection_pattern(record)


def maintenance_in_place(record: PatientRecord, today: date) -> bool:
    return bool(maintenance_regimens(record, today)) or injection_pattern(record)


def loading_course_running(record: PatientRecord, today: date) -> MedicationUse | None:
    """An active finite B12 course whose scheduled end has not passed yet."""
    for med in ongoing_b12(record, today):
        if not is_loading_or_one_off(med) or med.start is None:
            continue
        length = med.bounds_days
        if length is None and med.repeat_count is not None:
            length = med.repeat_count * (med.interval_days or 1)
        if length is not None and med.start.earliest + timedelta(days=length) >= today:
            return med
    return None


def maintenance_start(record: PatientRecord, today: date) -> FuzzyDate | None:
    """When the current maintenance began: the earliest start of an ongoing regimen."""
    starts = [m.start for m in maintenance_regimens(record, today) if m.start is not None]
    if starts:
        return min(starts, key=lambda d: d.earliest)
    given = b12_injections_given(record)
    if injection_pattern(record):
        # the first injection at least 4 weeks after its predecessor starts maintenance
        for newer, older in zip(reversed(given[:-1]), reversed(given[1:]), strict=True):
            if newer.start and older.start:
                if (
                    newer.start.earliest - older.start.latest
                ).days >= MIN_MAINTENANCE_INTERVAL_DAYS:
                    return newer.start
    return None


# --- conditions -------------------------------------------------------------------------


def neuro_involvement(record: PatientRecord) -> tuple[Diagnosis, ...]:
    """Any recorded neurological involvement: it sets 2-monthly maintenance for life."""
    return record.conditions_in("VS_NEURO")


@dataclass(frozen=True, slots=True)
class Cause:
    cause: str  # key of CAUSE_WORDS
    evidence: Diagnosis | ProcedureRecord

    @property
    def words(self) -> str:
        return CAUSE_WORDS[self.cause]


def irreversible_causes(record: PatientRecord, policy: Policy) -> tuple[Cause, ...]:
    """Irreversible malabsorption causes, whatever their clinical status (history counts)."""
    found: list[Cause] = []
    items: list[Diagnosis | ProcedureRecord] = [
        *record.conditions_in("VS_MALABSORPTION_IRREVERSIBLE"),
        *record.procedures_in("VS_MALABSORPTION_IRREVERSIBLE"),
    ]
    for item in items:
        found.append(Cause(policy.causes.get(item.code, "postsurgical"), item))
    return tuple(found)


def cause_lines(causes: tuple[Cause, ...], label: str = "Cause", limit: int = 2) -> list[str]:
    """One evidence line per distinct cause (PA coded twice is one cause, shown once)."""
    seen: set[str] = set()
    lines: list[str] = []
    for c in causes:
        if c.cause not in seen and len(lines) < limit:
            seen.add(c.cause)
            lines.append(f"{label}: {c.words} — {condition_line(c.evidence)}")
    return lines


def other_malabsorption(record: PatientRecord) -> tuple[Diagnosis | ProcedureRecord, ...]:
    return (
        *record.conditions_in("VS_MALABSORPTION_OTHER"),
        *record.procedures_in("VS_MALABSORPTION_OTHER"),
    )


def b12_deficient(result: LabResult, policy: Policy) -> bool:
    """Below 133 pmol/L (180 ng/L), judged in the unit the lab reported."""
    return result.b12_below(
        policy.threshold("b12_deficient_pmol_l"), policy.threshold("b12_deficient_ng_l")
    )


def b12_adequate(result: LabResult, policy: Policy) -> bool:
    """At least 258 pmol/L (350 ng/L), judged in the unit the lab reported."""
    return result.b12_at_or_above(
        policy.threshold("b12_adequate_pmol_l"), policy.threshold("b12_adequate_ng_l")
    )


def deficiency_evidence(record: PatientRecord, policy: Policy) -> tuple[str, ...]:
    """Documented B12 deficiency: a coded diagnosis, or a latest result that proves it."""
    lines = [condition_line(d) for d in record.conditions_in("VS_B12_DEFICIENCY")]
    b12 = record.latest(Analyte.B12)
    if b12 is not None and b12_deficient(b12, policy):
        lines.append(lab_line(b12, "B12"))
    holo = record.latest(Analyte.HOLOTC)
    if holo is not None and holo.definitely_below(policy.threshold("holotc_deficient_pmol_l")):
        lines.append(lab_line(holo, "Active B12 (holoTC)"))
    return tuple(lines)


def guideline_interval(record: PatientRecord, policy: Policy) -> int:
    """3-monthly, or 2-monthly with neurological involvement (BNF/SmPC)."""
    return policy.days("maintenance_neuro" if neuro_involvement(record) else "maintenance")


def recent(result: LabResult | None, today: date, days: int) -> LabResult | None:
    if result is None or result.when.days_before(today) > days:
        return None
    return result
