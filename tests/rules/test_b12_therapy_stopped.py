"""b12-therapy-stopped: lifelong B12 absent (patient-view) or being stopped (order-sign)."""

from __future__ import annotations

import pytest

from cds_service.record.model import MedicationUse
from cds_service.rules import b12_therapy_stopped as rule
from cds_service.rules.base import Indicator, ProposeB12Injection, RemoveDraft
from tests.rules.builders import (
    ATROPHIC_GASTRITIS,
    B12_DEFICIENCY,
    DIETARY_B12_DEFICIENCY,
    GASTRECTOMY,
    GASTRIC_BYPASS,
    ILEAL_RESECTION,
    PERNICIOUS_ANAEMIA,
    POLYNEUROPATHY,
    Case,
    Item,
    assert_case,
    b12,
    cases,
    condition,
    disabled,
    draft,
    folic_acid,
    im_order,
    injection,
    injections,
    oral_b12,
    orders,
    policy_with,
    procedure,
    record,
    run,
    run_enabled,
    statement_dose,
)

PA = condition(PERNICIOUS_ANAEMIA, 2000)  # also a coded B12 deficiency
GASTRECTOMY_DONE = procedure(GASTRECTOMY, 4000)
BYPASS = condition(GASTRIC_BYPASS, 3000, status="resolved")
DEFICIENT = condition(B12_DEFICIENCY, 2000, status="resolved")
ATROPHIC = condition(ATROPHIC_GASTRITIS, 2000)
ATROPHIC_OPT_IN = policy_with({"options.atrophic_gastritis_is_irreversible": True})
ORDER = im_order(every=84, start=400)


def stopping(
    *items: Item, replacement: MedicationUse | None = None, stopped: MedicationUse = ORDER
) -> Case:
    """order-sign: the active IM order is being stopped."""
    drafts = [draft(stopped, status="stopped")]
    if replacement is not None:
        drafts.append(draft(replacement))
    return Case("", record(ORDER, *items), None, orders=orders(*drafts), hook="order-sign")


def sign(says: str, case: Case, expect: Indicator | None) -> Case:
    return Case(says, case.record, expect, orders=case.orders, hook="order-sign")


CASES = cases(
    # --- patient-view ----------------------------------------------------------------------
    Case(
        "pernicious anaemia, no B12 for 123 days: critical", record(PA, injection(123)), "critical"
    ),
    Case(
        "pernicious anaemia, last dose 105 days ago (91 + 14 grace): covered, silent",
        record(PA, injection(105)),
        None,
    ),
    Case(
        "pernicious anaemia, last dose 106 days ago, no regimen in place: critical",
        record(PA, injection(106)),
        "critical",
    ),
    Case(
        "pernicious anaemia, 3-monthly order, dose 110 days ago (a missed dose): warning",
        record(PA, im_order(every=84, start=500), injection(110), injection(200)),
        "warning",
    ),
    Case(
        "pernicious anaemia, 3-monthly order, dose 200 days ago (> 2 intervals): critical",
        record(PA, im_order(every=84, start=500), injection(200), injection(290)),
        "critical",
    ),
    Case(
        "pernicious anaemia on an IM order with no dose recorded since: unknown, warning",
        record(PA, ORDER),
        "warning",
    ),
    Case(
        "pernicious anaemia on an IM order started 30 days ago (first dose not yet due): silent",
        record(PA, im_order(every=84, start=30)),
        None,
    ),
    Case(
        "pernicious anaemia, a 2-week loading order left active, its course ended: critical",
        record(
            PA,
            im_order(every=2, start=200, count=6, bounds_days=14),
            injections(200, 198, 196, 194, 192, 190),
        ),
        "critical",
    ),
    Case(
        "pernicious anaemia, injected 21 days ago, recorded only as a statement: silent",
        record(PA, statement_dose(21), injections(560, 558, 556)),
        None,
    ),
    Case(
        "pernicious anaemia with a stopped IM order and nothing since: critical",
        record(PA, im_order(start=800, status="stopped"), injection(300)),
        "critical",
    ),
    Case(
        "gastrectomy procedure and a deficiency diagnosis, no therapy: critical",
        record(GASTRECTOMY_DONE, DEFICIENT),
        "critical",
    ),
    Case(
        "gastrectomy procedure without recorded deficiency: warning",
        record(GASTRECTOMY_DONE),
        "warning",
    ),
    Case(
        "ileal resection with a latest B12 of 132.9 pmol/L (deficient): critical",
        record(condition(ILEAL_RESECTION, 3000, status="resolved"), b12(132.9, 10)),
        "critical",
    ),
    Case(
        "ileal resection with a latest B12 of 133 pmol/L (not proven deficient): warning",
        record(condition(ILEAL_RESECTION, 3000, status="resolved"), b12(133, 10)),
        "warning",
    ),
    Case("gastric bypass (resolved history), no therapy: warning", record(BYPASS), "warning"),
    Case(
        "gastric bypass with documented deficiency: warning (not a critical cause)",
        record(BYPASS, DEFICIENT),
        "warning",
    ),
    Case(
        "dietary B12 deficiency without malabsorption: stopping can be right, silent",
        record(condition(DIETARY_B12_DEFICIENCY)),
        None,
    ),
    Case("atrophic gastritis is not irreversible by default: silent", record(ATROPHIC), None),
    Case(
        "atrophic gastritis opted in as irreversible by the site: warning",
        record(condition(ATROPHIC_GASTRITIS, 2000, policy=ATROPHIC_OPT_IN)),
        "warning",
        policy=ATROPHIC_OPT_IN,
    ),
    Case(
        "pernicious anaemia, last injection recorded only as 2026-11 (this month): on therapy, silent",
        record(PA, injection("2026-11")),
        None,
    ),
    Case(
        "pernicious anaemia, last injection recorded only as 2026-08: counted from 31 Aug, silent",
        record(PA, injection("2026-08")),
        None,
    ),
    Case(
        "pernicious anaemia, last injection recorded only as 2026-07: 117 days at most, critical",
        record(PA, injection("2026-07")),
        "critical",
    ),
    Case(
        "pernicious anaemia, last injection recorded only as 2026-06: 148 days at most, critical",
        record(PA, injection("2026-06")),
        "critical",
    ),
    Case(
        "pernicious anaemia on daily oral B12 (stated): silent",
        record(PA, oral_b12(1.0, 200, status="active")),
        None,
    ),
    # --- order-sign: a stop of the B12 order --------------------------------------------
    sign(
        "order-sign: IM order stopped in pernicious anaemia, no replacement: critical",
        stopping(PA),
        "critical",
    ),
    sign(
        "order-sign: IM order stopped after gastric bypass, no deficiency: warning",
        stopping(BYPASS),
        "warning",
    ),
    sign(
        "order-sign: stopped but oral B12 ordered in its place: silent",
        stopping(PA, replacement=oral_b12(1.0)),
        None,
    ),
    sign(
        "order-sign: stopped and only oral B12 50 micrograms put in its place: critical",
        stopping(PA, replacement=oral_b12(0.05)),
        "critical",
    ),
    sign(
        "order-sign: stopped but a new IM order in the same drafts: silent",
        stopping(PA, replacement=im_order(every=56, start=0)),
        None,
    ),
    sign(
        "order-sign: stopped but another B12 order stays active in the record: silent",
        stopping(PA, im_order(every=28, start=100)),
        None,
    ),
    sign(
        "order-sign: stopped in dietary deficiency: silent",
        stopping(condition(DIETARY_B12_DEFICIENCY)),
        None,
    ),
    sign(
        "order-sign: cancelled (not stopped) IM order in pernicious anaemia: critical",
        Case("", record(ORDER, PA), None, orders=orders(draft(ORDER, status="cancelled"))),
        "critical",
    ),
    sign(
        "order-sign: only a folic acid draft, PA patient on no B12: silent (not a stop)",
        Case("", record(PA), None, orders=orders(draft(folic_acid()))),
        None,
    ),
)


@pytest.mark.parametrize("case", CASES)
def test_stopped(case: Case) -> None:
    assert_case(rule, case)


def test_order_sign_offers_to_discard_the_stop() -> None:
    case = sign("x", stopping(PA), "critical")
    finding = run(rule, case)
    assert finding is not None and case.orders is not None
    (keep,) = finding.suggestions
    assert isinstance(keep, RemoveDraft) and keep.order_ref == case.orders.drafts[0].ref


@pytest.mark.parametrize(
    ("extra", "days"),
    [
        pytest.param((), 91, id="restart every 3 months"),
        pytest.param((condition(POLYNEUROPATHY),), 61, id="restart every 2 months with neuropathy"),
    ],
)
def test_patient_view_suggests_restart(extra: tuple[Item, ...], days: int) -> None:
    finding = run(rule, Case("x", record(PA, *extra), "critical"))
    assert finding is not None
    (restart,) = finding.suggestions
    assert isinstance(restart, ProposeB12Injection) and restart.interval_days == days


def test_disabled_in_policy() -> None:
    case = Case("fires", record(PA), "critical")
    assert run_enabled(rule, case) is not None
    assert run_enabled(rule, disabled(rule, case)) is None
