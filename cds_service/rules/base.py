"""What a rule receives and what it returns.

A rule is a module with `RULE_ID`, `HOOKS`, `GUIDELINE` and a pure
`evaluate(inp: RuleInput) -> Finding | None`. A `Finding` carries the clinical words
(summary, evidence, caveats) and *intents* for suggestions; the cards layer turns
intents into FHIR resources. Nothing here knows JSON, HTTP or FHIR models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from cds_service.policy import Policy
from cds_service.record.completeness import COMPLETE, Completeness
from cds_service.record.model import Analyte, Orders, PatientRecord

Indicator = Literal["info", "warning", "critical"]
SEVERITY: dict[str, int] = {"info": 0, "warning": 1, "critical": 2}


@dataclass(frozen=True, slots=True)
class Guideline:
    """The source a card cites (`source.label`/`source.url`)."""

    label: str
    url: str


@dataclass(frozen=True, slots=True)
class RuleInput:
    record: PatientRecord
    policy: Policy
    today: date
    hook: str  # "patient-view" | "order-select" | "order-sign"
    orders: Orders | None = None  # None on patient-view
    # which searches behind the record were cut; rules never read it (see rules.completeness)
    completeness: Completeness = COMPLETE


# --- suggestion intents: what the clinician could do, in clinical terms -----------------


@dataclass(frozen=True, slots=True)
class ProposeB12Injection:
    """A draft order for hydroxocobalamin 1 mg IM.

    `interval_days` None with `doses` 1 is a single dose; `every_days` 2 is the
    alternate-day neurological course.
    """

    label: str
    interval_days: int | None = None
    doses: int | None = None
    recommended: bool = False


@dataclass(frozen=True, slots=True)
class ProposeLabTests:
    label: str
    analytes: tuple[Analyte, ...]
    recommended: bool = False


@dataclass(frozen=True, slots=True)
class ChangeOrderInterval:
    """Update an order (a draft, or an active record order) to a new interval."""

    label: str
    order_ref: str
    interval_days: int
    recommended: bool = False


@dataclass(frozen=True, slots=True)
class ChangeOralDose:
    label: str
    order_ref: str
    dose_mg: float
    recommended: bool = False


@dataclass(frozen=True, slots=True)
class RemoveDraft:
    """Delete a draft order (e.g. folic acid alone, or a stop of lifelong B12)."""

    label: str
    order_ref: str
    recommended: bool = False


@dataclass(frozen=True, slots=True)
class ReplaceWithB12Injection:
    """Delete an oral B12 draft and create hydroxocobalamin 1 mg IM instead."""

    label: str
    order_ref: str
    interval_days: int
    recommended: bool = False


SuggestionIntent = (
    ProposeB12Injection
    | ProposeLabTests
    | ChangeOrderInterval
    | ChangeOralDose
    | RemoveDraft
    | ReplaceWithB12Injection
)


@dataclass(frozen=True, slots=True)
class OverrideReason:
    code: str
    display: str


# Reasons every card may carry; rules add their own in front.
NOT_APPLICABLE = OverrideReason("not-applicable", "Not applicable to this patient")
GIVEN_ELSEWHERE = OverrideReason("given-elsewhere", "Given or recorded elsewhere")
PATIENT_DECLINED = OverrideReason("patient-declined", "Patient declined after discussion")
SPECIALIST_PLAN = OverrideReason("specialist-plan", "Specialist-directed regimen")


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule's verdict for one call: at most one per rule."""

    rule_id: str
    indicator: Indicator
    summary: str  # one sentence, < 140 characters, carrying the key fact
    guideline: Guideline
    evidence: tuple[str, ...] = ()  # markdown bullet texts: values with units and dates
    advice: str = ""  # what to do, one short paragraph
    caveats: tuple[str, ...] = ()  # data-quality notes the clinician should see
    suggestions: tuple[SuggestionIntent, ...] = ()
    selection: Literal["at-most-one", "any"] = "at-most-one"
    override_reasons: tuple[OverrideReason, ...] = field(default=())
    links: tuple[tuple[str, str], ...] = ()  # (label, absolute url)
    # the clinical facts the card speaks about (`rules.precedence.SHARED_FACTS`): two cards
    # about one fact become one, the more urgent carrying the other
    about: frozenset[str] = frozenset()
    merged: tuple[str, ...] = ()  # rule ids whose findings this card carries too
    safety: bool = False  # a patient-safety card: never held back by earlier overrides
