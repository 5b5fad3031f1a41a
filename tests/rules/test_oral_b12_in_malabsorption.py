"""oral-b12-in-malabsorption: oral B12 ordered for a patient with malabsorption."""

from __future__ import annotations

from dataclasses import replace

import pytest

from cds_service.record.model import Agent, PatientRecord, Route, Source
from cds_service.rules import oral_b12_in_malabsorption as rule
from cds_service.rules.base import ChangeOralDose, Indicator, ReplaceWithB12Injection
from tests.rules.builders import (
    ATROPHIC_GASTRITIS,
    COELIAC,
    DIETARY_B12_DEFICIENCY,
    GASTRECTOMY,
    GASTRIC_BYPASS,
    ILEAL_RESECTION,
    PERNICIOUS_ANAEMIA,
    POLYNEUROPATHY,
    Case,
    assert_case,
    cases,
    condition,
    disabled,
    draft,
    folic_acid,
    im_order,
    injection,
    med,
    oral_b12,
    orders,
    procedure,
    record,
    run,
    run_enabled,
)

PA = condition(PERNICIOUS_ANAEMIA, 2000)
NEURO = condition(POLYNEUROPATHY, 400)


def oral(
    says: str,
    rec: PatientRecord,
    expect: Indicator | None,
    dose: float | None = 1.0,
    *,
    hook: str = "order-sign",
    selected: bool = True,
) -> Case:
    return Case(
        says, rec, expect, orders=orders(draft(oral_b12(dose), selected=selected)), hook=hook
    )


CASES = cases(
    oral("oral 1 mg daily in pernicious anaemia: warning", record(PA), "warning"),
    oral(
        "oral 2 mg daily after gastrectomy (procedure): warning",
        record(procedure(GASTRECTOMY)),
        "warning",
        2.0,
    ),
    oral(
        "oral 1 mg daily after gastric bypass (resolved history): warning",
        record(condition(GASTRIC_BYPASS, 3000, status="resolved")),
        "warning",
    ),
    oral(
        "oral 1 mg daily with ileal resection: warning",
        record(condition(ILEAL_RESECTION, 3000)),
        "warning",
    ),
    oral(
        "oral 1 mg daily with coeliac disease: warning", record(condition(COELIAC, 900)), "warning"
    ),
    oral(
        "oral 50 micrograms in pernicious anaemia: warning with the low-dose wording",
        record(PA),
        "warning",
        0.05,
    ),
    oral(
        "vegan with dietary deficiency, oral 50 micrograms: silent",
        record(condition(DIETARY_B12_DEFICIENCY)),
        None,
        0.05,
    ),
    oral(
        "atrophic gastritis without site opt-in: not malabsorption by default, silent",
        record(condition(ATROPHIC_GASTRITIS)),
        None,
    ),
    oral("no malabsorption recorded: silent", record(), None),
    oral(
        "Crohn's of small and large intestine (long name) keeps the summary under 140: warning",
        record(condition("http://hl7.org/fhir/sid/icd-10-cm|K50.819")),
        "warning",
    ),
    oral(
        "oral dose unknown in pernicious anaemia: warning (never critical for missing dose)",
        record(PA),
        "warning",
        None,
    ),
    # --- neurological involvement --------------------------------------------------------
    oral(
        "pernicious anaemia and neuropathy, no IM dose recorded: critical",
        record(PA, NEURO),
        "critical",
    ),
    oral(
        "pernicious anaemia and neuropathy, IM dose 75 days ago (61 + 14 grace): warning",
        record(PA, NEURO, injection(75)),
        "warning",
    ),
    oral(
        "pernicious anaemia and neuropathy, last IM dose 76 days ago: no IM cover, critical",
        record(PA, NEURO, injection(76)),
        "critical",
    ),
    # --- focus -----------------------------------------------------------------------------
    oral(
        "order-select: oral B12 selected in pernicious anaemia: warning",
        record(PA),
        "warning",
        hook="order-select",
    ),
    oral(
        "order-select: oral B12 drafted but not selected: silent",
        record(PA),
        None,
        hook="order-select",
        selected=False,
    ),
    Case(
        "IM hydroxocobalamin ordered in pernicious anaemia: silent",
        record(PA),
        None,
        orders=orders(draft(im_order(every=84, start=0))),
        hook="order-sign",
    ),
    Case(
        "stopping an oral B12 order: silent",
        record(PA),
        None,
        orders=orders(draft(oral_b12(1.0), status="stopped")),
        hook="order-sign",
    ),
    Case(
        "nasal B12 is not oral: silent",
        record(PA),
        None,
        orders=orders(draft(med(Agent.B12, Source.REQUEST, start=0, route=Route.NASAL, every=7))),
        hook="order-sign",
    ),
    Case(
        "existing oral statement in the record, only folic acid ordered: silent",
        record(PA, oral_b12(1.0, 300, status="active")),
        None,
        orders=orders(draft(folic_acid())),
        hook="order-sign",
    ),
)


def _drafted(use: object, rec: PatientRecord) -> Case:
    return Case("", rec, None, orders=orders(draft(use)), hook="order-sign")  # type: ignore[arg-type]


def test_sublingual_b12_in_pernicious_anaemia_is_oral_b12() -> None:
    sublingual = replace(oral_b12(1.0), route=Route.SUBLINGUAL)
    finding = run(rule, _drafted(sublingual, record(PA)))
    assert finding is not None and finding.indicator == "warning"


def test_a_multivitamin_is_not_oral_b12_therapy() -> None:
    multivitamin = med(Agent.FOLIC_ACID, Source.REQUEST, start=0, route=Route.ORAL, status="draft")
    assert run(rule, _drafted(multivitamin, record(PA))) is None


def test_nasal_b12_is_not_oral_b12() -> None:
    nasal = replace(oral_b12(0.5), route=Route.NASAL)
    assert run(rule, _drafted(nasal, record(PA))) is None


@pytest.mark.parametrize("case", CASES)
def test_oral(case: Case) -> None:
    assert_case(rule, case)


@pytest.mark.parametrize(
    ("dose", "offers_dose_change"), [(0.05, True), (0.999, True), (1.0, False), (2.0, False)]
)
def test_dose_below_1_mg_offers_1_mg_daily(dose: float, offers_dose_change: bool) -> None:
    case = oral("x", record(PA), "warning", dose)
    finding = run(rule, case)
    assert finding is not None and case.orders is not None
    kinds = {type(s): s for s in finding.suggestions}
    replace = kinds[ReplaceWithB12Injection]
    assert isinstance(replace, ReplaceWithB12Injection)
    assert replace.order_ref == case.orders.drafts[0].ref and replace.interval_days == 91
    assert (ChangeOralDose in kinds) is offers_dose_change
    assert ("too low" in finding.summary) is offers_dose_change


def test_disabled_in_policy() -> None:
    case = oral("fires", record(PA), "warning")
    assert run_enabled(rule, case) is not None
    assert run_enabled(rule, disabled(rule, case)) is None
