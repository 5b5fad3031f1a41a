"""B12 therapy over time: the doses the record shows, each regimen's window, and whether the
patient is covered today. Status is not proof.

- A **dose** is what the record shows was given or taken: a given MedicationAdministration, a
  MedicationStatement with an effective date or period (even when `completed`: it records
  doses given), a Procedure recording a B12 injection. An injected dose covers the regimen's
  interval (the guideline's 3 or 2 months when none is ordered) plus grace; an oral dose a day.
- A **regimen** is an order or an ongoing statement. Its own window ends at its end date, the
  end of a finite course (count x interval, bounds), or the end of its dispensed supply; a
  stopped, cancelled or completed one has ended. An open injection regimen covers until its
  first dose is due (after that only doses keep it current); an open oral regimen, which has
  no doses to record, covers for `open_regimen_currency` days after it was written or last
  asserted.
- **Current therapy** is a dose or a regimen window covering today. An ended window is history,
  whatever the status says.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from cds_service.policy import Policy
from cds_service.record.model import (
    ENTERAL,
    PARENTERAL,
    Agent,
    FuzzyDate,
    MedicationUse,
    PatientRecord,
    Route,
    Source,
    Substance,
)
from cds_service.rules.facts.causes import guideline_interval
from cds_service.rules.facts.memo import per_record

MIN_MAINTENANCE_INTERVAL_DAYS = 28  # shorter ordered intervals are loading, not maintenance
REQUEST_ENDED = frozenset({"stopped", "cancelled", "completed", "entered-in-error"})
REQUEST_NOT_A_REGIMEN = frozenset({"draft", "cancelled", "entered-in-error", "unknown"})
STATEMENT_REGIMEN = frozenset({"active", "intended", "on-hold"})
STATEMENT_NOT_A_DOSE = frozenset({"not-taken", "intended", "entered-in-error"})
PROCEDURE_DOSE = "B12_ADMINISTRATION"


@dataclass(frozen=True, slots=True)
class Dose:
    """A B12 dose the record shows: given (administration, procedure) or taken (statement)."""

    when: FuzzyDate
    parenteral: bool
    name: str
    ref: str
    kind: str  # "administration" | "statement" | "procedure"

    def line(self) -> str:
        return f"{self.name} ({self.kind}, {self.when.text})"


@dataclass(frozen=True, slots=True)
class Regimen:
    """A B12 order or ongoing statement, with the window its own data gives it."""

    use: MedicationUse
    parenteral: bool
    finite: bool  # a loading course or a single dose, not maintenance
    window_end: date | None  # the last day of its own window; None: open
    ended: bool  # stopped, cancelled or completed

    @property
    def start(self) -> FuzzyDate | None:
        return self.use.start

    @property
    def interval(self) -> float | None:
        return self.use.interval_days


@dataclass(frozen=True, slots=True)
class Cover:
    """One thing that covers the patient until `until` (inclusive, grace counted)."""

    until: date
    parenteral: bool
    line: str
    use: MedicationUse | None = None  # None for a procedure-recorded dose


@dataclass(frozen=True, slots=True)
class Coverage:
    """What covers the patient today. `unconfirmed`: regimens still in place by their own
    data (not ended, window open) that nothing confirms today: an injection regimen with no
    dose recorded since it began, once its first dose was due; an oral one older than
    `open_regimen_currency` with no supply or end. Their therapy is unknown, not absent:
    missing records never make a card critical."""

    covers: tuple[Cover, ...]  # covering today, most lasting first
    until: date | None  # the last day anything covered (today or before)
    last_dose: Dose | None
    unconfirmed: tuple[Regimen, ...] = ()

    @property
    def current(self) -> bool:
        return bool(self.covers)

    @property
    def unknown(self) -> bool:
        """No cover shown, but a regimen in place may be giving it."""
        return not self.covers and bool(self.unconfirmed)


# --- doses -----------------------------------------------------------------------------------


def _parenteral(route: Route) -> bool:
    return route in PARENTERAL or route is Route.UNKNOWN


def injected(med: MedicationUse) -> bool:
    """An injection by its route, or hydroxocobalamin with no route (it is only ever injected;
    a bare "vitamin B12" may be a tablet)."""
    return med.route in PARENTERAL or (
        med.route is Route.UNKNOWN and Substance.HYDROXOCOBALAMIN in med.product.substances
    )


@per_record
def b12_doses(record: PatientRecord) -> tuple[Dose, ...]:
    """Every B12 dose the record shows, newest first (one per day and route)."""
    found: dict[tuple[date, bool], Dose] = {}
    for med in record.meds(Agent.B12):
        dose: Dose | None = None
        if med.source is Source.ADMINISTRATION and med.was_given and med.start is not None:
            # administrations without a route count as injections: oral doses are rarely
            # charted as administrations
            dose = Dose(med.start, _parenteral(med.route), med.name, med.ref, "given")
        elif (
            med.source is Source.STATEMENT
            and med.status not in STATEMENT_NOT_A_DOSE
            and med.taken is not None
            and (med.route not in ENTERAL or med.status not in STATEMENT_REGIMEN)
        ):
            dose = Dose(med.taken, injected(med), med.name, med.ref, "statement")
        if dose is not None:
            found.setdefault((dose.when.latest, dose.parenteral), dose)
    for procedure in record.procedures_in(PROCEDURE_DOSE):
        if procedure.performed is not None:
            dose = Dose(procedure.performed, True, procedure.display, procedure.ref, "procedure")
            found.setdefault((dose.when.latest, True), dose)
    return tuple(
        sorted(found.values(), key=lambda d: (d.when.latest, d.when.earliest), reverse=True)
    )


@per_record
def injections(record: PatientRecord) -> tuple[Dose, ...]:
    """The parenteral doses, newest first."""
    return tuple(d for d in b12_doses(record) if d.parenteral)


def last_injection(record: PatientRecord) -> Dose | None:
    given = injections(record)
    return given[0] if given else None


def injection_summary(record: PatientRecord) -> tuple[str, ...]:
    """One evidence line: how many injections, first and last date."""
    given = injections(record)
    if not given:
        return ()
    first, last = given[-1].when, given[0].when
    if len(given) == 1:
        return (f"1 B12 injection recorded, on {last.text}",)
    return (f"{len(given)} B12 injections recorded, from {first.text} to {last.text}",)


# --- regimens --------------------------------------------------------------------------------


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


def _window_end(med: MedicationUse) -> date | None:
    """The last day an order's own data gives it: end date, course end, supply end."""
    ends: list[date] = []
    if med.end is not None:
        ends.append(med.end.latest)
    if med.start is not None:
        begin = med.start.latest
        if med.bounds_days is not None:
            ends.append(begin + timedelta(days=med.bounds_days))
        if med.repeat_count is not None and med.repeat_count >= 1:
            spacing = med.interval_days or 1.0
            ends.append(begin + timedelta(days=(med.repeat_count - 1) * spacing))
        if med.supply_days is not None:
            ends.append(begin + timedelta(days=med.supply_days))
    return min(ends) if ends else None


@per_record
def regimens(record: PatientRecord) -> tuple[Regimen, ...]:
    """B12 orders and ongoing statements, newest start first."""
    found: list[Regimen] = []
    for med in record.meds(Agent.B12, Source.REQUEST, Source.STATEMENT):
        if med.source is Source.REQUEST:
            if med.status in REQUEST_NOT_A_REGIMEN or med.intent in ("proposal", "plan"):
                continue
            ended = med.status in REQUEST_ENDED
        else:
            if med.status not in STATEMENT_REGIMEN:
                continue
            ended = False
        found.append(
            Regimen(
                use=med,
                parenteral=injected(med),
                finite=is_loading_or_one_off(med),
                window_end=_window_end(med),
                ended=ended,
            )
        )
    return tuple(found)


@per_record
def dose_interval(record: PatientRecord, policy: Policy) -> float:
    """The days one injection covers: the ordered maintenance interval when one is in place
    (monthly stays monthly), else the guideline's 3 months (2 with neurological involvement)."""
    ordered = [
        r.interval
        for r in regimens(record)
        if r.parenteral and not r.ended and not r.finite and r.interval
        if r.interval >= MIN_MAINTENANCE_INTERVAL_DAYS
    ]
    default = float(guideline_interval(record, policy))
    return float(round(min([*ordered, default])))  # whole days, as the overdue rule counts


def _window_open(regimen: Regimen, today: date, grace: int) -> bool:
    if regimen.ended:
        return False
    if regimen.start is not None and regimen.start.earliest > today:
        return False  # written for the future
    return regimen.window_end is None or regimen.window_end + timedelta(days=grace) >= today


def _regimen_cover(regimen: Regimen, policy: Policy, today: date, span: float) -> Cover | None:
    """What the regimen itself covers (its doses are counted separately)."""
    grace = policy.days("grace")
    if not _window_open(regimen, today, grace) or regimen.start is None:
        return None
    begin = regimen.start.latest
    use = regimen.use
    if regimen.parenteral:
        if regimen.finite and regimen.window_end is not None:
            until = regimen.window_end + timedelta(days=grace)  # a course still running
        else:
            until = begin + timedelta(days=span + grace)  # until its first dose is due
    else:
        asserted = max(begin, use.asserted.latest if use.asserted else begin)
        until = asserted + timedelta(days=policy.days("open_regimen_currency"))
        if regimen.window_end is not None:
            until = min(until, regimen.window_end + timedelta(days=grace))
    if until < today:
        return None
    return Cover(until, regimen.parenteral, f"{use.name} ({_kind(use)}, {begin.isoformat()})", use)


def _kind(use: MedicationUse) -> str:
    status = f" {use.status}" if use.status else ""
    return ("order" if use.source is Source.REQUEST else "statement") + status


@per_record
def coverage(record: PatientRecord, policy: Policy, today: date) -> Coverage:
    """What covers the patient today, from doses and regimen windows (never from status)."""
    grace = policy.days("grace")
    span = dose_interval(record, policy)
    doses = b12_doses(record)
    uses = {m.ref: m for m in record.meds(Agent.B12)}
    found: list[Cover] = []
    latest: date | None = None
    for dose in doses:
        if dose.when.earliest > today:
            continue  # a dose dated in the future covers nothing yet
        days = span if dose.parenteral else 1.0
        until = dose.when.latest + timedelta(days=days + grace)
        latest = max(latest or until, until)
        if until >= today:
            found.append(Cover(until, dose.parenteral, dose.line(), uses.get(dose.ref)))
    unconfirmed: list[Regimen] = []
    for regimen in regimens(record):
        cover = _regimen_cover(regimen, policy, today, span)
        if cover is not None:
            found.append(cover)
            latest = max(latest or cover.until, cover.until)
        elif _unconfirmed(regimen, doses, today, grace):
            unconfirmed.append(regimen)
    found.sort(key=lambda c: c.until, reverse=True)
    given = [d for d in doses if d.when.earliest <= today]
    return Coverage(tuple(found), latest, given[0] if given else None, tuple(unconfirmed))


def _unconfirmed(regimen: Regimen, doses: tuple[Dose, ...], today: date, grace: int) -> bool:
    """In place by its own data, but nothing confirms it covers today."""
    if regimen.finite or not _window_open(regimen, today, grace) or regimen.start is None:
        return False
    if not regimen.parenteral:
        return True  # open, but older than its currency: not renewed, not re-asserted
    begin = regimen.start.earliest
    return not any(d.parenteral and d.when.latest >= begin for d in doses)


# --- maintenance --------------------------------------------------------------------------


@per_record
def maintenance_ended(record: PatientRecord) -> tuple[Regimen, ...]:
    """B12 maintenance regimens that were stopped, cancelled or completed."""
    return tuple(r for r in regimens(record) if r.ended and not r.finite)


@per_record
def injection_pattern(record: PatientRecord) -> bool:
    """Maintenance in practice: the two latest injections are at least 4 weeks apart.

    Only where the record holds no ended maintenance order: once a regimen was stopped, past
    injections no longer mean the patient is on maintenance (other rules judge the stop).
    """
    if maintenance_ended(record):
        return False
    given = injections(record)
    if len(given) < 2:
        return False
    gap = (given[0].when.earliest - given[1].when.latest).days
    return gap >= MIN_MAINTENANCE_INTERVAL_DAYS


@per_record
def maintenance_regimens(record: PatientRecord, policy: Policy, today: date) -> tuple[Regimen, ...]:
    """Maintenance regimens in place: not finite courses, not ended, their window open (by
    their own end dates, course and supply; whether doses follow is `coverage`'s question)."""
    grace = policy.days("grace")
    return tuple(r for r in regimens(record) if not r.finite and _window_open(r, today, grace))


def im_maintenance_regimen(record: PatientRecord, policy: Policy, today: date) -> Regimen | None:
    """The injection regimen in place, if one is ordered or stated."""
    return next((r for r in maintenance_regimens(record, policy, today) if r.parenteral), None)


def on_im_maintenance(record: PatientRecord, policy: Policy, today: date) -> bool:
    return im_maintenance_regimen(record, policy, today) is not None or injection_pattern(record)


def maintenance_in_place(record: PatientRecord, policy: Policy, today: date) -> bool:
    return bool(maintenance_regimens(record, policy, today)) or injection_pattern(record)


def loading_course_running(record: PatientRecord, today: date) -> Regimen | None:
    """A finite B12 course, not ended, whose scheduled end has not passed yet."""
    for regimen in regimens(record):
        if not regimen.finite or regimen.ended or regimen.start is None:
            continue
        end = regimen.window_end or (regimen.start.earliest + timedelta(days=1))
        if regimen.start.earliest <= today <= end:
            return regimen
    return None


@per_record
def maintenance_start(record: PatientRecord, policy: Policy, today: date) -> FuzzyDate | None:
    """When the current maintenance began: the earliest start of a regimen in place, or the
    first injection at least 4 weeks after its predecessor."""
    starts = [r.start for r in maintenance_regimens(record, policy, today) if r.start is not None]
    if starts:
        return min(starts, key=lambda d: d.earliest)
    given = injections(record)
    if injection_pattern(record):
        for newer, older in zip(reversed(given[:-1]), reversed(given[1:]), strict=True):
            if (newer.when.earliest - older.when.latest).days >= MIN_MAINTENANCE_INTERVAL_DAYS:
                return newer.when
    return None


@per_record
def treated_deficiency(record: PatientRecord) -> tuple[str, ...]:
    """What shows a B12 deficiency was treated (not an over-the-counter supplement): an
    injection given or ordered, or a B12 order written for B12 deficiency."""
    lines: list[str] = []
    given = injections(record)
    if given:
        lines.extend(injection_summary(record))
    for regimen in regimens(record):
        if regimen.parenteral and not given:
            lines.append(
                f"B12 injections ordered: {regimen.use.name} ({regimen.use.start or 'date unknown'})"
            )
            break
    for med in record.meds(Agent.B12):
        if "VS_B12_DEFICIENCY" in med.reasons:
            lines.append(f"B12 ordered for B12 deficiency: {med.name}")
            break
    return tuple(lines)


# --- cover for folic acid -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CoverCheck:
    """Whether B12 is adequate cover for folic acid, and what was weighed (evidence lines)."""

    covered: bool
    lines: tuple[str, ...]
    unknown: bool = False  # a regimen in place that nothing confirms: cover not shown either way


def _adequate(
    name: str, parenteral: bool, daily_mg: float | None, malabsorbed: str | None, policy: Policy
) -> tuple[bool, str]:
    """Parenteral B12 at a treatment dose; oral, sublingual or nasal B12 at the replacement
    dose a day, in a patient without malabsorption."""
    if parenteral:
        return True, f"B12 cover: {name}"
    if malabsorbed is not None:
        return False, f"{name}: oral or nasal B12 is not cover with {malabsorbed}"
    minimum = policy.threshold("oral_b12_cover_min_mg_per_day")
    if daily_mg is None:
        return False, f"{name}: its daily B12 dose is not stated, so it cannot be counted as cover"
    if daily_mg < minimum:
        return False, (
            f"{name} gives {dose_words(daily_mg)} of B12 a day: below the "
            f"{dose_words(minimum)} a day that covers folic acid"
        )
    return True, f"B12 cover: {name}, {dose_words(daily_mg)} a day"


def dose_words(mg: float) -> str:
    return f"{mg * 1000:g} micrograms" if mg < 1 else f"{mg:g} mg"


def b12_cover(
    record: PatientRecord,
    policy: Policy,
    today: date,
    drafts: tuple[MedicationUse, ...],
    malabsorbed: str | None,
    stopping: frozenset[str] = frozenset(),
) -> CoverCheck:
    """Adequate B12 cover from what covers the patient today (`coverage`) or the B12 among
    the draft orders (a folic acid product's own B12 included). `stopping`: refs of record
    orders the drafts stop, which cover nothing; `malabsorbed`: words for the malabsorption
    that makes oral and nasal B12 no cover, or None."""
    lines: list[str] = []
    for use in drafts:
        ok, line = _adequate(
            f"{use.name} (draft order)", injected(use), use.b12_daily_mg, malabsorbed, policy
        )
        if ok:
            return CoverCheck(True, (line,))
        lines.append(line)
    current = coverage(record, policy, today)
    for cover in current.covers:
        if cover.use is not None and cover.use.ref in stopping:
            continue
        daily = cover.use.b12_daily_mg if cover.use is not None else None
        ok, line = _adequate(cover.line, cover.parenteral, daily, malabsorbed, policy)
        if ok:
            return CoverCheck(True, (line,))
        lines.append(line)
    unknown = False
    if not current.covers:
        last = current.last_dose
        lines.append(
            "No current B12 therapy shown"
            + (f" (last dose: {last.line()})" if last is not None else " and no B12 dose recorded")
        )
        for regimen in current.unconfirmed:
            if regimen.use.ref in stopping:
                continue
            ok, _ = _adequate(
                regimen.use.name, regimen.parenteral, regimen.use.b12_daily_mg, malabsorbed, policy
            )
            if ok:
                unknown = True
                lines.append(f"{unconfirmed_line(regimen)}: confirm B12 is being given")
    return CoverCheck(False, tuple(dict.fromkeys(lines)), unknown)


def unconfirmed_line(regimen: Regimen) -> str:
    use = regimen.use
    when = use.start.text if use.start else "date unknown"
    if regimen.parenteral:
        return f"{use.name} ({_kind(use)} since {when}) is in place but no dose is recorded since"
    return f"{use.name} ({_kind(use)} since {when}) is in place but not renewed or re-asserted"
