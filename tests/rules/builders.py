"""Terse builders for rule tests: typed record objects, built directly (no FHIR reader).

Every date is "days before TODAY" (2026-11-25) unless a partial date string is given, so
a case reads like the chart: ``injection(106)`` is a dose given 106 days ago.
`run` is the one way a test evaluates a rule: it checks what every finding must satisfy
(rule id, guideline, summary under 140 characters) before the test looks at the result.
"""

from __future__ import annotations

import calendar
import copy
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from types import ModuleType
from typing import Any

import pytest

from cds_service.policy import DEFAULT_POLICY_PATH, Policy, load_policy, policy_from_dict
from cds_service.record.medicines.substances import normalise, substances_in
from cds_service.record.model import (
    Agent,
    Analyte,
    Basis,
    DataGap,
    Diagnosis,
    DraftOrder,
    FuzzyDate,
    Ingredient,
    LabResult,
    MedicationUse,
    Orders,
    PatientRecord,
    Precision,
    ProcedureRecord,
    Product,
    Route,
    Source,
    Strength,
    Substance,
)
from cds_service.rules import run_rules
from cds_service.rules.base import Finding, Indicator, RuleInput

TODAY = date(2026, 11, 25)
POLICY = load_policy()

SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"

# Codes used by the cases, by clinical name ("system|code", all in the default value sets).
PERNICIOUS_ANAEMIA = f"{SNOMED}|84027009"
GASTRECTOMY = f"{SNOMED}|53442002"
GASTRIC_BYPASS = f"{SNOMED}|443906008"
ILEAL_RESECTION = "http://www.cms.gov/Medicare/Coding/ICD10|0DTB0ZZ"  # Resection of Ileum
SMALL_BOWEL_EXCISION = f"{SNOMED}|54357003"  # any part: ileal only with the terminal ileum named
ATROPHIC_GASTRITIS = f"{SNOMED}|84568007"
COELIAC = f"{SNOMED}|396331005"
B12_DEFICIENCY = f"{SNOMED}|190634004"
DIETARY_B12_DEFICIENCY = f"{ICD10CM}|D51.3"
POLYNEUROPATHY = f"{SNOMED}|42345000"
PARAESTHESIA_FOOT = f"{SNOMED}|309087008"
SCD = f"{ICD10CM}|G32.0"
DIABETIC_NEUROPATHY = f"{SNOMED}|424736006"
DEPRESSION = f"{SNOMED}|35489007"

LOINC_OF = {
    Analyte.B12: "14685-2",
    Analyte.HOLOTC: "72160-5",
    Analyte.MMA: "13964-2",
    Analyte.HOMOCYSTEINE: "13965-9",
    Analyte.FOLATE: "14732-2",
    Analyte.HB: "718-7",
    Analyte.MCV: "787-2",
    Analyte.PHQ9: "44261-6",
    Analyte.PHQ9_ITEM9: "44260-8",
}

# --- dates ---------------------------------------------------------------------------------

When = int | str | FuzzyDate


def on(when: When) -> FuzzyDate:
    """An exact day `when` days before TODAY, or a FHIR partial date "2026", "2026-07"."""
    if isinstance(when, FuzzyDate):
        return when
    if isinstance(when, int):
        day = TODAY - timedelta(days=when)
        return FuzzyDate(day, day, Precision.DAY, day.isoformat())
    parts = [int(p) for p in when.split("-")]
    if len(parts) == 3:
        day = date(*parts)
        return FuzzyDate(day, day, Precision.DAY, when)
    if len(parts) == 2:
        last = calendar.monthrange(parts[0], parts[1])[1]
        return FuzzyDate(
            date(parts[0], parts[1], 1), date(parts[0], parts[1], last), Precision.MONTH, when
        )
    return FuzzyDate(date(parts[0], 1, 1), date(parts[0], 12, 31), Precision.YEAR, when)


def born_years_ago(years: int, days_later: int = 0) -> FuzzyDate:
    """Birth date `years` before TODAY, moved `days_later` towards today."""
    day = TODAY.replace(year=TODAY.year - years) + timedelta(days=days_later)
    return FuzzyDate(day, day, Precision.DAY, day.isoformat())


# --- labs ----------------------------------------------------------------------------------

_ids = iter(range(1, 1_000_000))


def _next(prefix: str) -> str:
    return f"{prefix}/{prefix[:3].lower()}-{next(_ids)}"


def lab(
    analyte: Analyte,
    value: float,
    when: When,
    *,
    comparator: str | None = None,
    shown: str | None = None,
    reference_high: float | None = None,
) -> LabResult:
    return LabResult(
        ref=_next("Observation"),
        analyte=analyte,
        value=value,
        comparator=comparator,
        when=on(when),
        code=LOINC_OF[analyte],
        shown=shown or "",
        reference_high=reference_high,
    )


def b12(value: float, when: When, **kw: Any) -> LabResult:
    return lab(Analyte.B12, value, when, **kw)


def holotc(value: float, when: When, **kw: Any) -> LabResult:
    return lab(Analyte.HOLOTC, value, when, **kw)


def hcy(value: float, when: When, **kw: Any) -> LabResult:
    return lab(Analyte.HOMOCYSTEINE, value, when, **kw)


def phq9(value: float, when: When, **kw: Any) -> LabResult:
    return lab(Analyte.PHQ9, value, when, **kw)


# --- conditions and procedures -------------------------------------------------------------


def _concepts(code: str, policy: Policy) -> frozenset[str]:
    """What the reader does: every VS_* set the code is in."""
    return frozenset(
        name for name, keys in policy.value_sets.items() if name.startswith("VS_") and code in keys
    )


def condition(
    code: str,
    onset: When | None = 365,
    *,
    status: str | None = "active",
    abated: When | None = None,
    recorded: When | None = None,
    policy: Policy = POLICY,
) -> Diagnosis:
    return Diagnosis(
        ref=_next("Condition"),
        concepts=_concepts(code, policy),
        display=policy.displays.get(code, code),
        code=code,
        clinical_status=status,
        verification_status="confirmed",
        onset=on(onset) if onset is not None else None,
        recorded=on(recorded) if recorded is not None else None,
        abatement=on(abated) if abated is not None else None,
    )


def procedure(
    code: str, performed: When | None = 3650, *, status: str = "completed", policy: Policy = POLICY
) -> ProcedureRecord:
    return ProcedureRecord(
        ref=_next("Procedure"),
        concepts=_concepts(code, policy),
        display=policy.displays.get(code, code),
        code=code,
        status=status,
        performed=on(performed) if performed is not None else None,
    )


# --- medications ---------------------------------------------------------------------------


_SUBSTANCE = {
    Agent.B12: Substance.CYANOCOBALAMIN,
    Agent.FOLIC_ACID: Substance.FOLIC_ACID,
    Agent.METFORMIN: Substance.METFORMIN,
    Agent.PPI: Substance.OMEPRAZOLE,
}


def product(
    agent: Agent,
    name: str,
    *,
    route: Route = Route.UNKNOWN,
    strength_mg: float | None = None,
    per: str | None = None,
    substance: Substance | None = None,
    extra: Iterable[Ingredient] = (),
) -> Product:
    """A single-substance product (plus `extra` ingredients), as the classifier makes one."""
    strength = Strength(strength_mg, "mg", per) if strength_mg is not None else None
    named = substances_in(normalise(name))
    main = Ingredient(
        name.split(" ")[0].lower(),
        substance or (named[0] if named else _SUBSTANCE[agent]),
        strength,
    )
    return Product(
        name=name,
        ingredients=(main, *extra),
        route=route,
        basis=Basis.CODE,
        code="http://www.nlm.nih.gov/research/umls/rxnorm|0",
    )


def med(
    agent: Agent,
    source: Source,
    *,
    start: When | None,
    route: Route = Route.UNKNOWN,
    status: str | None = "active",
    name: str = "",
    dose_mg: float | None = None,
    daily_mg: float | None = None,
    every: float | None = None,
    from_text: bool = False,
    count: int | None = None,
    bounds_days: float | None = None,
    end: When | None = None,
    intent: str | None = "order",
    agents: frozenset[Agent] | None = None,
    made_of: Product | None = None,
    supply_days: float | None = None,
    reasons: frozenset[str] = frozenset(),
    asserted: When | None = None,
    taken: When | None = None,
) -> MedicationUse:
    name = name or f"{agent.value} product"
    if daily_mg is None and dose_mg is not None and every is not None and every > 0:
        daily_mg = round(dose_mg / every, 9) if every <= 1 else None
    return MedicationUse(
        ref=_next(source.value),
        source=source,
        agents=agents or frozenset({agent}),
        product=made_of or product(agent, name, route=route, strength_mg=dose_mg),
        route=route,
        status=status,
        intent=intent if source is Source.REQUEST else None,
        start=on(start) if start is not None else None,
        end=on(end) if end is not None else None,
        name=name,
        b12_dose_mg=dose_mg if agent is Agent.B12 else None,
        b12_daily_mg=daily_mg if agent is Agent.B12 else None,
        dose_basis=Basis.DOSAGE if dose_mg is not None else None,
        interval_days=every,
        interval_from_text=from_text,
        repeat_count=count,
        bounds_days=bounds_days,
        supply_days=supply_days,
        reasons=reasons,
        asserted=on(asserted) if asserted is not None else None,
        taken=(
            on(taken)
            if taken is not None
            else (on(start) if source is Source.ADMINISTRATION and start is not None else None)
        ),
    )


def injection(
    when: When, *, status: str = "completed", route: Route = Route.INJECTION
) -> MedicationUse:
    """A given dose of hydroxocobalamin 1 mg IM."""
    return med(
        Agent.B12,
        Source.ADMINISTRATION,
        start=when,
        route=route,
        status=status,
        name="hydroxocobalamin 1 MG/ML Injectable Solution",
        dose_mg=1.0,
    )


def statement_dose(
    when: When, *, status: str = "completed", route: Route = Route.INJECTION
) -> MedicationUse:
    """A MedicationStatement recording a dose of hydroxocobalamin 1 mg IM on `when`."""
    return med(
        Agent.B12,
        Source.STATEMENT,
        start=when,
        taken=when,
        route=route,
        status=status,
        name="hydroxocobalamin 1 MG/ML Injectable Solution",
        dose_mg=1.0,
    )


def injections(*days_ago: int) -> tuple[MedicationUse, ...]:
    return tuple(injection(d) for d in days_ago)


LOADING_DONE = (70, 63, 56, 49)  # four weekly loading injections, the last 49 days ago


def im_order(
    every: float | None = 84, start: When | None = 60, *, status: str = "active", **kw: Any
) -> MedicationUse:
    """An ongoing hydroxocobalamin 1 mg IM order (12-weekly by default)."""
    return med(
        Agent.B12,
        Source.REQUEST,
        start=start,
        route=Route.INJECTION,
        status=status,
        name="hydroxocobalamin 1 MG/ML Injectable Solution",
        dose_mg=1.0,
        every=every,
        **kw,
    )


def oral_b12(
    dose_mg: float | None = 1.0, start: When | None = 0, *, status: str = "draft", **kw: Any
) -> MedicationUse:
    """Daily oral cyanocobalamin (a draft by default)."""
    return med(
        Agent.B12,
        Source.REQUEST,
        start=start,
        route=Route.ORAL,
        status=status,
        name=f"cyanocobalamin {dose_mg if dose_mg is not None else '?'} mg tablet",
        dose_mg=dose_mg,
        every=1,
        **kw,
    )


def folic_acid(status: str = "draft", start: When | None = 0) -> MedicationUse:
    return med(
        Agent.FOLIC_ACID,
        Source.REQUEST,
        start=start,
        route=Route.ORAL,
        status=status,
        name="folic acid 5 mg tablet",
        dose_mg=5.0,
        every=1,
    )


def metformin(
    start: When | None = 730, *, status: str = "active", source: Source = Source.REQUEST
) -> MedicationUse:
    return med(
        Agent.METFORMIN,
        source,
        start=start,
        route=Route.ORAL,
        status=status,
        name="metformin hydrochloride 500 MG Oral Tablet",
        every=1,
    )


def ppi(start: When = 400, *, status: str = "active") -> MedicationUse:
    return med(
        Agent.PPI,
        Source.REQUEST,
        start=start,
        route=Route.ORAL,
        status=status,
        name="omeprazole 20 MG",
    )


# --- the record and the draft orders -------------------------------------------------------

Item = LabResult | Diagnosis | ProcedureRecord | MedicationUse | DataGap


def _newest(when: FuzzyDate | None) -> tuple[date, date]:
    return (when.latest, when.earliest) if when is not None else (date.min, date.min)


def record(
    *items: Item | Iterable[Item],
    birth: FuzzyDate | None = None,
    gender: str | None = None,
) -> PatientRecord:
    """A record from any mix of items (or tuples of items), sorted as the reader sorts."""
    flat: list[Item] = []
    for item in items:
        if isinstance(item, LabResult | Diagnosis | ProcedureRecord | MedicationUse | DataGap):
            flat.append(item)
        else:
            flat.extend(item)
    labs = sorted(
        (i for i in flat if isinstance(i, LabResult)), key=lambda r: _newest(r.when), reverse=True
    )
    meds = sorted(
        (i for i in flat if isinstance(i, MedicationUse)),
        key=lambda m: _newest(m.start),
        reverse=True,
    )
    return PatientRecord(
        patient_id="p1",
        birth_date=birth,
        gender=gender,
        labs=tuple(labs),
        diagnoses=tuple(i for i in flat if isinstance(i, Diagnosis)),
        procedures=tuple(i for i in flat if isinstance(i, ProcedureRecord)),
        medications=tuple(meds),
        gaps=tuple(i for i in flat if isinstance(i, DataGap)),
    )


def draft(
    medication: MedicationUse | None, *, selected: bool = True, status: str = "draft"
) -> DraftOrder:
    """One draftOrders entry; `selected=False` is an order not in `selections`."""
    ref = medication.ref if medication is not None else _next("ServiceRequest")
    if medication is not None:
        medication = replace(medication, status=status)
    return DraftOrder(
        ref=ref,
        resource_type="MedicationRequest" if medication is not None else "ServiceRequest",
        status=status,
        intent="order",
        selected=selected,
        medication=medication,
    )


def orders(*drafts: DraftOrder) -> Orders:
    return Orders(drafts=tuple(drafts))


# --- policy variants -----------------------------------------------------------------------

_DEFAULT_DOC: dict[str, Any] = json.loads(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))


def policy_with(changes: Mapping[str, Any]) -> Policy:
    """The default policy with dotted-path changes, e.g. {"rules.x.enabled": False}."""
    doc = copy.deepcopy(_DEFAULT_DOC)
    for path, value in changes.items():
        *parents, leaf = path.split(".")
        node = doc
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return policy_from_dict(doc)


# --- cases and running ---------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One clinical sentence: this record (and these draft orders) -> this indicator or silence."""

    says: str
    record: PatientRecord
    expect: Indicator | None
    orders: Orders | None = None
    hook: str = "patient-view"
    policy: Policy = POLICY
    today: date = TODAY


def cases(*items: Case) -> list[Any]:
    """Parametrize values with the clinical sentence as the test id."""
    says = [c.says for c in items]
    assert len(says) == len(set(says)), "case sentences must be unique"
    return [pytest.param(c, id=c.says) for c in items]


def check_finding(rule: ModuleType, finding: Finding) -> None:
    """What every finding of every rule must satisfy (contract: cards)."""
    assert finding.rule_id == rule.RULE_ID
    assert finding.indicator in ("info", "warning", "critical")
    assert 0 < len(finding.summary) < 140, (
        f"summary {len(finding.summary)} chars: {finding.summary}"
    )
    assert "\n" not in finding.summary
    assert finding.guideline.label and finding.guideline.url.startswith("https://")
    assert finding.evidence, "a card shows its evidence"


def run(rule: ModuleType, case: Case) -> Finding | None:
    """Evaluate one rule on a case, checking the finding's invariants."""
    inp = RuleInput(
        record=case.record, policy=case.policy, today=case.today, hook=case.hook, orders=case.orders
    )
    finding: Finding | None = rule.evaluate(inp)
    if finding is not None:
        check_finding(rule, finding)
    return finding


def run_enabled(rule: ModuleType, case: Case) -> Finding | None:
    """Evaluate through `run_rules`, so policy switches (enabled, indicator) apply."""
    inp = RuleInput(
        record=case.record, policy=case.policy, today=case.today, hook=case.hook, orders=case.orders
    )
    result = run_rules(inp, (rule,))
    assert not result.failures, result.failures
    assert len(result.findings) <= 1
    for finding in result.findings:
        check_finding(rule, finding)
    return result.findings[0] if result.findings else None


def assert_case(rule: ModuleType, case: Case) -> Finding | None:
    """The case's expectation, plus: a rule speaks only on its hooks' terms."""
    finding = run(rule, case)
    got = finding.indicator if finding is not None else None
    assert got == case.expect, f"{case.says}: expected {case.expect}, got {got}" + (
        f" ({finding.summary})" if finding else ""
    )
    return finding


def disabled(rule: ModuleType, case: Case) -> Case:
    """The same case under a policy that switches the rule off."""
    return replace(case, policy=policy_with({f"rules.{rule.RULE_ID}.enabled": False}))
