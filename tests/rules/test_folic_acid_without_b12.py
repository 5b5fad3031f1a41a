"""folic-acid-without-b12: folic acid ordered without B12 cover and B12 not known adequate."""

from __future__ import annotations

import pytest

from cds_service.record.model import Analyte, Orders, PatientRecord
from cds_service.rules import folic_acid_without_b12 as rule
from cds_service.rules.base import Indicator, ProposeB12Injection, ProposeLabTests, RemoveDraft
from tests.rules.builders import (
    B12_DEFICIENCY,
    COELIAC,
    DIETARY_B12_DEFICIENCY,
    GASTRECTOMY,
    PERNICIOUS_ANAEMIA,
    POLYNEUROPATHY,
    Case,
    assert_case,
    b12,
    cases,
    condition,
    disabled,
    draft,
    folic_acid,
    holotc,
    im_order,
    injection,
    lab,
    oral_b12,
    orders,
    procedure,
    record,
    run,
    run_enabled,
)

FOLIC = orders(draft(folic_acid()))
ADEQUATE = b12(453, 30)
ACTIVE = im_order(every=84, start=300)


def sign(says: str, rec: PatientRecord, expect: Indicator | None, drafts: Orders = FOLIC) -> Case:
    return Case(says, rec, expect, orders=drafts, hook="order-sign")


CASES = cases(
    # --- B12 status -----------------------------------------------------------------------
    sign(
        "coded B12 deficiency, no B12 cover: critical",
        record(condition(B12_DEFICIENCY)),
        "critical",
    ),
    sign(
        "pernicious anaemia, no B12 cover: critical",
        record(condition(PERNICIOUS_ANAEMIA)),
        "critical",
    ),
    sign("latest B12 132.9 pmol/L: deficient, critical", record(b12(132.9, 30)), "critical"),
    sign("latest B12 133 pmol/L: indeterminate, warning", record(b12(133, 30)), "warning"),
    sign("latest B12 257.9 pmol/L: indeterminate, warning", record(b12(257.9, 30)), "warning"),
    sign("latest B12 258 pmol/L, no risk factor: adequate, silent", record(b12(258, 30)), None),
    sign("active B12 24.9 pmol/L: deficient, critical", record(holotc(24.9, 30)), "critical"),
    sign("active B12 25 pmol/L: indeterminate, warning", record(holotc(25, 30)), "warning"),
    sign("active B12 70 pmol/L: indeterminate, warning", record(holotc(70, 30)), "warning"),
    sign("active B12 70.1 pmol/L: adequate, silent", record(holotc(70.1, 30)), None),
    sign(
        "no B12 result ever, no diagnosis: unknown, warning (never critical)", record(), "warning"
    ),
    sign("adequate B12 365 days ago: still recent, silent", record(b12(453, 365)), None),
    sign("adequate B12 366 days ago: status unknown, warning", record(b12(453, 366)), "warning"),
    sign(
        "B12 reported as <150 pg/mL (<110.7 pmol/L) proves deficiency: critical",
        record(b12(110.7, 30, comparator="<", shown="<150 pg/mL")),
        "critical",
    ),
    sign(
        "B12 reported as <200 pg/mL (<147.6 pmol/L) does not prove deficiency: warning",
        record(b12(147.6, 30, comparator="<", shown="<200 pg/mL")),
        "warning",
    ),
    sign(
        "B12 reported as >1000 pg/mL (>738 pmol/L): adequate, silent",
        record(b12(738, 30, comparator=">", shown=">1000 pg/mL")),
        None,
    ),
    sign(
        "B12 reported as >200 pg/mL (>147.6 pmol/L) does not prove adequacy: warning",
        record(b12(147.6, 30, comparator=">", shown=">200 pg/mL")),
        "warning",
    ),
    # --- risk conditions with adequate B12 -----------------------------------------------
    sign(
        "adequate B12 but MCV 100.1 fL: warning",
        record(ADEQUATE, lab(Analyte.MCV, 100.1, 30)),
        "warning",
    ),
    sign("adequate B12 and MCV 100 fL: silent", record(ADEQUATE, lab(Analyte.MCV, 100, 30)), None),
    sign(
        "adequate B12 but polyneuropathy: warning",
        record(ADEQUATE, condition(POLYNEUROPATHY)),
        "warning",
    ),
    sign(
        "adequate B12 but gastrectomy history: warning",
        record(ADEQUATE, procedure(GASTRECTOMY)),
        "warning",
    ),
    sign(
        "adequate B12 but coeliac disease: warning", record(ADEQUATE, condition(COELIAC)), "warning"
    ),
    # --- B12 cover -----------------------------------------------------------------------------
    sign(
        "deficiency, on an active IM order: covered, silent",
        record(condition(B12_DEFICIENCY), im_order()),
        None,
    ),
    sign(
        "deficiency, injection 105 days ago (91 + 14 grace): covered, silent",
        record(condition(B12_DEFICIENCY), injection(105)),
        None,
    ),
    sign(
        "deficiency, last injection 106 days ago: not covered, critical",
        record(condition(B12_DEFICIENCY), injection(106)),
        "critical",
    ),
    sign(
        "deficiency, last injection dated 2026-11 (this month): covered, silent",
        record(condition(B12_DEFICIENCY), injection("2026-11")),
        None,
    ),
    sign(
        "deficiency, hydroxocobalamin co-ordered in the same draft orders: silent",
        record(condition(B12_DEFICIENCY)),
        None,
        orders(draft(folic_acid()), draft(im_order(every=84, start=0))),
    ),
    sign(
        "deficiency, oral B12 co-ordered in the same draft orders: silent",
        record(condition(B12_DEFICIENCY)),
        None,
        orders(draft(folic_acid()), draft(oral_b12(1.0))),
    ),
    sign(
        "deficiency, the active B12 order is being stopped in the same drafts: no cover, critical",
        record(condition(B12_DEFICIENCY), ACTIVE),
        "critical",
        orders(draft(folic_acid()), draft(ACTIVE, status="stopped")),
    ),
    sign(
        "deficiency, another B12 order stopped, the active one (no dose recorded) stays: unknown, warning",
        record(condition(B12_DEFICIENCY), ACTIVE),
        "warning",
        orders(draft(folic_acid()), draft(im_order(every=28, start=0), status="stopped")),
    ),
    sign(
        "deficiency, the only B12 order in the record was stopped: critical",
        record(condition(B12_DEFICIENCY), im_order(start=300, status="stopped")),
        "critical",
    ),
    # --- B12 cover is computed from what the patient gets -----------------------------------
    sign(
        "coded deficiency, oral B12 1 mg a day among the drafts, no malabsorption: covered, silent",
        record(condition(B12_DEFICIENCY)),
        None,
        orders(draft(folic_acid()), draft(oral_b12(1.0))),
    ),
    sign(
        "coded deficiency, an over-the-counter 50 microgram tablet drafted: no cover, critical",
        record(condition(B12_DEFICIENCY)),
        "critical",
        orders(draft(folic_acid()), draft(oral_b12(0.05))),
    ),
    sign(
        "pernicious anaemia, oral B12 1 mg a day drafted: oral is no cover in malabsorption, critical",
        record(condition(PERNICIOUS_ANAEMIA)),
        "critical",
        orders(draft(folic_acid()), draft(oral_b12(1.0))),
    ),
    sign(
        "pernicious anaemia, on an oral 1 mg statement taken daily: no cover, critical",
        record(condition(PERNICIOUS_ANAEMIA), oral_b12(1.0, 30, status="active")),
        "critical",
    ),
    sign(
        "coeliac disease, oral B12 1 mg a day drafted: no cover in malabsorption, warning",
        record(condition(COELIAC), ADEQUATE),
        "warning",
        orders(draft(folic_acid()), draft(oral_b12(1.0))),
    ),
    sign(
        "coded deficiency, IM hydroxocobalamin drafted with it: covered, silent",
        record(condition(B12_DEFICIENCY)),
        None,
        orders(draft(folic_acid()), draft(im_order(every=84, start=0))),
    ),
    # --- functional deficiency ----------------------------------------------------------------
    sign(
        "total B12 normal but MMA raised (0.6 umol/L): deficiency known, critical",
        record(b12(320, 20), lab(Analyte.MMA, 0.6, 20)),
        "critical",
    ),
    sign(
        "total B12 adequate but homocysteine raised (18 umol/L): not known adequate, warning",
        record(b12(320, 20), lab(Analyte.HOMOCYSTEINE, 18, 20)),
        "warning",
    ),
    sign(
        "a dietary deficiency resolved years ago and an adequate B12 since: silent",
        record(condition(DIETARY_B12_DEFICIENCY, 2500, status="resolved"), ADEQUATE),
        None,
    ),
    sign(
        "a dietary deficiency resolved years ago, no B12 since: history, warning",
        record(condition(DIETARY_B12_DEFICIENCY, 2500, status="resolved")),
        "warning",
    ),
    # --- what is in focus --------------------------------------------------------------
    sign(
        "a stop of folic acid is not a folic acid order: silent",
        record(condition(B12_DEFICIENCY)),
        None,
        orders(draft(folic_acid(), status="stopped")),
    ),
    sign(
        "no folic acid among the drafts: silent",
        record(condition(B12_DEFICIENCY)),
        None,
        orders(draft(oral_b12(0.05))),
    ),
    Case(
        "order-select: folic acid in selections, deficiency: critical",
        record(condition(B12_DEFICIENCY)),
        "critical",
        orders=orders(draft(folic_acid(), selected=True)),
        hook="order-select",
    ),
    Case(
        "order-select: folic acid drafted but not selected: silent",
        record(condition(B12_DEFICIENCY)),
        None,
        orders=orders(draft(folic_acid(), selected=False), draft(None)),
        hook="order-select",
    ),
    Case(
        "order-select: B12 drafted (not selected) alongside the selected folic acid: covered, silent",
        record(condition(B12_DEFICIENCY)),
        None,
        orders=orders(draft(folic_acid()), draft(im_order(every=84, start=0), selected=False)),
        hook="order-select",
    ),
    Case("patient-view has no draft orders: silent", record(condition(B12_DEFICIENCY)), None),
)


@pytest.mark.parametrize("case", CASES)
def test_folic_acid(case: Case) -> None:
    assert_case(rule, case)


def test_critical_card_recommends_b12_and_offers_removal() -> None:
    finding = run(rule, sign("x", record(condition(B12_DEFICIENCY)), "critical"))
    assert finding is not None
    by_type = {type(s): s for s in finding.suggestions}
    assert by_type[ProposeB12Injection].recommended
    assert not by_type[ProposeLabTests].recommended
    remove = by_type[RemoveDraft]
    assert isinstance(remove, RemoveDraft) and remove.order_ref == FOLIC.drafts[0].ref
    assert finding.selection == "any"


def test_unknown_status_recommends_a_b12_test() -> None:
    finding = run(rule, sign("x", record(), "warning"))
    assert finding is not None
    by_type = {type(s): s for s in finding.suggestions}
    assert by_type[ProposeLabTests].recommended and not by_type[ProposeB12Injection].recommended


def test_disabled_in_policy() -> None:
    case = sign("fires", record(condition(B12_DEFICIENCY)), "critical")
    assert run_enabled(rule, case) is not None
    assert run_enabled(rule, disabled(rule, case)) is None
