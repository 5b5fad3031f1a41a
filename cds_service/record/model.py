"""The typed, immutable view of a patient's record that the rules read.

Everything here is plain data: no FHIR JSON, no HTTP, no clock. The two the reader
makes by the hundred (`FuzzyDate`, `LabResult`) are NamedTuples: as immutable as the
frozen dataclasses elsewhere here, and several times cheaper to build. The tolerant reader
(`cds_service.record.reader`) is the only producer; the rules are the consumers.
Values are already normalised to one unit per analyte (see `Analyte`), dates keep the
precision they were recorded with, and anything the reader had to skip is a `DataGap`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any, NamedTuple

from cds_service.record.medicines.model import (
    COBALAMINS,
    ENTERAL,
    FOLATE_ANALOGUES,
    PARENTERAL,
    Basis,
    Ingredient,
    Product,
    Route,
    Strength,
    Substance,
)

__all__ = [
    "COBALAMINS",
    "ENTERAL",
    "FOLATE_ANALOGUES",
    "PARENTERAL",
    "Basis",
    "Ingredient",
    "Product",
    "Route",
    "Strength",
    "Substance",
]


class Precision(StrEnum):
    YEAR = "year"
    MONTH = "month"
    DAY = "day"


class FuzzyDate(NamedTuple):
    """A FHIR date/dateTime kept at the precision it was given.

    `earliest`/`latest` bound the real day: "2026-05" is 2026-05-01..2026-05-31.
    Rules that ask "how long ago" use `latest`, so a partial date never makes
    something look more overdue than it can be.
    """

    earliest: date
    latest: date
    precision: Precision
    text: str

    @property
    def exact(self) -> bool:
        return self.precision is Precision.DAY

    def days_before(self, today: date) -> int:
        """Days from this date to `today`, counted from the latest possible day."""
        return (today - self.latest).days

    def __str__(self) -> str:
        return self.text


class Analyte(StrEnum):
    """Lab analytes the rules read, each with the one unit the reader normalises to."""

    B12 = "b12"  # total cobalamin, serum/plasma, pmol/L (never whole blood)
    HOLOTC = "holotc"  # holotranscobalamin ("active B12"), pmol/L
    MMA = "mma"  # methylmalonic acid, umol/L
    HOMOCYSTEINE = "homocysteine"  # umol/L
    FOLATE = "folate"  # serum/plasma folate, nmol/L
    RBC_FOLATE = "rbc-folate"  # red cell / whole blood folate, nmol/L
    HB = "hb"  # haemoglobin, g/L
    MCV = "mcv"  # mean corpuscular volume, fL
    PHQ9 = "phq9"  # PHQ-9 total score, 0-27
    PHQ9_ITEM9 = "phq9-item9"  # PHQ-9 item 9 score, 0-3


UNIT_OF: Mapping[Analyte, str] = {
    Analyte.B12: "pmol/L",
    Analyte.HOLOTC: "pmol/L",
    Analyte.MMA: "umol/L",
    Analyte.HOMOCYSTEINE: "umol/L",
    Analyte.FOLATE: "nmol/L",
    Analyte.RBC_FOLATE: "nmol/L",
    Analyte.HB: "g/L",
    Analyte.MCV: "fL",
    Analyte.PHQ9: "{score}",
    Analyte.PHQ9_ITEM9: "{score}",
}


class LabResult(NamedTuple):
    """One usable result, normalised to `UNIT_OF[analyte]`.

    `comparator` keeps a censored value honest: "<150 pg/mL" is stored as value 110.7
    with comparator "<", and the predicates below only answer what the value proves.
    """

    ref: str  # "Observation/<id>"
    analyte: Analyte
    value: float
    comparator: str | None  # None, "<", "<=", ">", ">="
    when: FuzzyDate
    code: str  # the LOINC code that matched
    shown: str  # the value as reported, e.g. "<150 pg/mL", for card evidence
    reference_high: float | None = None  # normalised, when the lab sent one
    note: str | None = None  # e.g. "date taken from Observation.issued"
    # B12 reported in a mass unit (pg/mL = ng/L), before conversion: guideline cut-offs are
    # stated in both units (180 ng/L ~ 133 pmol/L) and are judged in the unit the lab used.
    reported_ng_l: float | None = None

    @property
    def unit(self) -> str:
        return UNIT_OF[self.analyte]

    def definitely_below(self, threshold: float) -> bool:
        return _below(self.value, self.comparator, threshold)

    def definitely_at_or_above(self, threshold: float) -> bool:
        return _at_or_above(self.value, self.comparator, threshold)

    def b12_below(self, pmol_l: float, ng_l: float) -> bool:
        """Below a B12 cut-off given in both units, judged in the unit the lab reported."""
        if self.reported_ng_l is not None:
            return _below(self.reported_ng_l, self.comparator, ng_l)
        return self.definitely_below(pmol_l)

    def b12_at_or_above(self, pmol_l: float, ng_l: float) -> bool:
        if self.reported_ng_l is not None:
            return _at_or_above(self.reported_ng_l, self.comparator, ng_l)
        return self.definitely_at_or_above(pmol_l)

    def normalised(self) -> str:
        """The value in the normalised unit, e.g. "<110.7 pmol/L"."""
        number = f"{self.value:.1f}".rstrip("0").rstrip(".")
        return f"{self.comparator or ''}{number} {self.unit}"


def _below(value: float, comparator: str | None, threshold: float) -> bool:
    """What a possibly censored value proves: "<150" is below 200, but not below 100."""
    if comparator in (None, "<", "<="):
        return value < threshold or (comparator == "<" and value <= threshold)
    return False


def _at_or_above(value: float, comparator: str | None, threshold: float) -> bool:
    return comparator in (None, ">", ">=") and value >= threshold


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """A Condition that is not entered-in-error or refuted (the reader drops those)."""

    ref: str  # "Condition/<id>"
    concepts: frozenset[str]  # value-set names it belongs to, e.g. {"VS_NEURO"}
    display: str
    code: str  # "system|code" of the coding that matched (or the first coding)
    clinical_status: str | None  # active | recurrence | relapse | inactive | remission | resolved
    verification_status: str | None
    onset: FuzzyDate | None
    recorded: FuzzyDate | None
    abatement: FuzzyDate | None = None
    # what the record links it to: value sets of its dueTo / evidence codes, and words that
    # name B12 in its text ("memory impairment due to B12 deficiency" -> VS_B12_DEFICIENCY)
    linked: frozenset[str] = frozenset()
    linked_refs: frozenset[str] = frozenset()  # "Condition/<id>" it is due to / evidenced by
    qualifier: str | None = None  # e.g. "terminal ileum (body site)" for a small-bowel resection
    matched_by_text: bool = False

    @property
    def is_current(self) -> bool:
        """Active unless the record says it has ended (missing status counts as active)."""
        return self.clinical_status in (None, "active", "recurrence", "relapse") and (
            self.abatement is None
        )

    @property
    def first_known(self) -> FuzzyDate | None:
        return self.onset or self.recorded


@dataclass(frozen=True, slots=True)
class ProcedureRecord:
    """A Procedure that is not entered-in-error or not-done (the reader drops those)."""

    ref: str
    concepts: frozenset[str]
    display: str
    code: str
    status: str | None
    performed: FuzzyDate | None
    qualifier: str | None = None  # e.g. "terminal ileum (body site)"
    matched_by_text: bool = False

    @property
    def is_done(self) -> bool:
        return self.status in (None, "completed", "unknown")


class Agent(StrEnum):
    B12 = "b12"
    FOLIC_ACID = "folic-acid"
    METFORMIN = "metformin"
    PPI = "ppi"


class Source(StrEnum):
    REQUEST = "MedicationRequest"
    STATEMENT = "MedicationStatement"
    ADMINISTRATION = "MedicationAdministration"


REQUEST_ACTIVE = frozenset({"active", "on-hold"})
STATEMENT_ACTIVE = frozenset({"active", "intended"})
ADMINISTRATION_GIVEN = frozenset({"completed", "in-progress"})


@dataclass(frozen=True, slots=True)
class MedicationUse:
    """One medication resource about an agent the rules care about.

    `product` is what it names (ingredients, strengths, dose form; see `medicines`),
    `agents` what that means to the rules: B12 only for a cobalamin at a replacement
    strength (a multivitamin's micrograms and the cyanide antidote are not B12 therapy),
    folic acid for any product that contains it. `route` is this use's route (the dosage's
    route, else the dose form's). `b12_dose_mg` is the cobalamin in one administration and
    `b12_daily_mg` in one day, `dose_basis` how they were found (DOSAGE, or ASSUMED: one
    unit, once a day). `interval_days` is the longest interval the order allows (periodMax
    over frequency); `interval_from_text` marks one guessed from free text.
    """

    ref: str  # "MedicationRequest/<id>"
    source: Source
    agents: frozenset[Agent]
    product: Product
    route: Route
    status: str | None
    intent: str | None
    start: FuzzyDate | None  # authoredOn, effective[x] start, or occurrence
    end: FuzzyDate | None  # effectivePeriod.end / boundsPeriod.end, when given
    name: str  # as the order names it, for evidence
    b12_dose_mg: float | None = None  # cobalamin per administration (the low end of a range)
    b12_daily_mg: float | None = None  # cobalamin per day
    dose_basis: Basis | None = None
    interval_days: float | None = None
    interval_from_text: bool = False
    repeat_count: int | None = None  # timing.repeat.count (a finite course)
    bounds_days: float | None = None  # timing.repeat.boundsDuration / boundsPeriod length
    supply_days: float | None = None  # dispenseRequest: (repeats + 1) x expected supply
    reasons: frozenset[str] = frozenset()  # value sets of reasonCode (e.g. VS_B12_DEFICIENCY)
    asserted: FuzzyDate | None = None  # MedicationStatement.dateAsserted
    # the latest day the record says it was given or taken: an administration's date, a
    # statement's effective date (its period's end when it has one); never dateAsserted
    taken: FuzzyDate | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def agent(self) -> Agent:
        """The agent the rules mostly ask about, in `Agent` order (B12 first)."""
        return next(a for a in Agent if a in self.agents)

    def is_(self, agent: Agent) -> bool:
        return agent in self.agents

    @property
    def matched_by_text(self) -> bool:
        """Recognised by its words only: no product or substance code identified it."""
        return self.product.code is None

    @property
    def is_finite_course(self) -> bool:
        """A bounded series: a small count or a short bounded schedule.

        Whether that is loading or a fixed run of maintenance doses is a clinical
        question the rules answer (`rules.facts.is_loading_or_one_off`), by spacing.
        """
        if self.repeat_count is not None and self.repeat_count <= 12:
            return True
        return self.bounds_days is not None and self.bounds_days <= 56

    def is_current(self, today: date) -> bool:
        """An ongoing order or statement by its status and end date (not proof of use:
        `rules.facts` works out what the record shows the patient is getting)."""
        if self.end is not None and self.end.latest < today:
            return False
        if self.source is Source.REQUEST:
            return self.status in REQUEST_ACTIVE
        if self.source is Source.STATEMENT:
            return self.status in STATEMENT_ACTIVE
        return False

    @property
    def was_given(self) -> bool:
        return self.source is Source.ADMINISTRATION and self.status in ADMINISTRATION_GIVEN


@dataclass(frozen=True, slots=True)
class DataGap:
    """Something the reader could not use, said in words fit for a card.

    `topic` is an `Analyte` or `Agent` value (or "conditions"/"bundle") so a rule only
    repeats the gaps that touch what it read. Never logged: it may carry dates.
    """

    topic: str
    message: str


# The analytes a rule reads as a series (trend, "since maintenance started", "crossed 10").
# For every other analyte a rule asks only for the newest result, so the record holds only
# the newest usable one and the reader stops there: a long full-blood-count history costs
# one reading, not hundreds.
SERIES_ANALYTES = frozenset({Analyte.B12, Analyte.HOMOCYSTEINE, Analyte.PHQ9})


@dataclass(frozen=True, slots=True)
class PatientRecord:
    patient_id: str
    birth_date: FuzzyDate | None = None
    gender: str | None = None
    labs: tuple[LabResult, ...] = ()  # newest first; the newest one only, outside SERIES
    diagnoses: tuple[Diagnosis, ...] = ()
    procedures: tuple[ProcedureRecord, ...] = ()
    medications: tuple[MedicationUse, ...] = ()  # newest start first
    gaps: tuple[DataGap, ...] = ()
    # The analytes read into `labs` (a hook call reads only what its rules read); None: all.
    analytes: frozenset[Analyte] | None = None
    # The analytes read as a whole series (others: the newest usable result only); None:
    # `SERIES_ANALYTES` (of those read).
    series: frozenset[Analyte] | None = None
    # Facts the rules derived from this record (`rules.facts.memo`): the record never
    # changes, so each shared question is answered once per hook call, not once per rule.
    memo: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False, hash=False)

    def results(self, analyte: Analyte) -> tuple[LabResult, ...]:
        """Results for one series analyte (`SERIES_ANALYTES`, of those this hook's rules read
        as a series: their `SERIES`), newest first."""
        if analyte not in SERIES_ANALYTES or (
            self.series is not None and analyte not in self.series
        ):
            raise ValueError(f"{analyte} is read as its latest result only; see the rule's SERIES")
        self._check_read(analyte)
        return tuple(r for r in self.labs if r.analyte is analyte)

    def latest(self, analyte: Analyte) -> LabResult | None:
        self._check_read(analyte)
        return next((r for r in self.labs if r.analyte is analyte), None)

    def _check_read(self, analyte: Analyte) -> None:
        """A record read without `analyte` must not answer as if the patient had none."""
        if self.analytes is not None and analyte not in self.analytes:
            raise ValueError(f"{analyte} was not read for this record; add it to the rule's READS")

    def conditions_in(self, concept: str, *, current_only: bool = False) -> tuple[Diagnosis, ...]:
        return tuple(
            d
            for d in self.diagnoses
            if concept in d.concepts and (d.is_current or not current_only)
        )

    def procedures_in(self, concept: str) -> tuple[ProcedureRecord, ...]:
        return tuple(p for p in self.procedures if concept in p.concepts and p.is_done)

    def has(self, concept: str, *, current_only: bool = False) -> bool:
        """True if a condition (or a completed procedure) belongs to the value set."""
        return bool(self.conditions_in(concept, current_only=current_only)) or (
            not current_only and bool(self.procedures_in(concept))
        )

    def meds(self, agent: Agent, *sources: Source) -> tuple[MedicationUse, ...]:
        return tuple(
            m
            for m in self.medications
            if agent in m.agents and (not sources or m.source in sources)
        )

    def gaps_about(self, *topics: str) -> tuple[DataGap, ...]:
        return tuple(g for g in self.gaps if g.topic in topics)


@dataclass(frozen=True, slots=True)
class DraftOrder:
    """One entry of `context.draftOrders`, as the order hooks see it."""

    ref: str  # "MedicationRequest/request-123"
    resource_type: str
    status: str | None
    intent: str | None
    selected: bool  # in `context.selections` (order-select); always True on order-sign
    medication: MedicationUse | None  # None for other request types or unknown drugs
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_stop(self) -> bool:
        """A revised order that ends therapy (order-sign may carry these)."""
        return self.status in ("stopped", "cancelled")


@dataclass(frozen=True, slots=True)
class Orders:
    drafts: tuple[DraftOrder, ...] = ()
    gaps: tuple[DataGap, ...] = ()  # what the draft orders did not say (strength, route...)

    @property
    def focus(self) -> tuple[DraftOrder, ...]:
        """The orders advice is about: the selections on order-select, all on order-sign."""
        return tuple(d for d in self.drafts if d.selected)

    def with_agent(self, agent: Agent, *, focus_only: bool = False) -> tuple[DraftOrder, ...]:
        pool = self.focus if focus_only else self.drafts
        return tuple(d for d in pool if d.medication is not None and agent in d.medication.agents)

    def gaps_about(self, *topics: str) -> tuple[DataGap, ...]:
        return tuple(g for g in self.gaps if g.topic in topics)
