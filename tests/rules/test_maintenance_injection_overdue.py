"""maintenance-injection-overdue: last IM dose older than interval + 14 days' grace."""

from __future__ import annotations

import pytest

from cds_service.record.model import Agent, DataGap, Diagnosis, ProcedureRecord, Route, Source
from cds_service.rules import maintenance_injection_overdue as rule
from cds_service.rules.base import Indicator
from tests.rules.builders import (
    GASTRECTOMY,
    ILEAL_RESECTION,
    LOADING_DONE,
    PERNICIOUS_ANAEMIA,
    POLYNEUROPATHY,
    Case,
    assert_case,
    b12,
    cases,
    condition,
    disabled,
    im_order,
    injection,
    injections,
    med,
    procedure,
    record,
    run,
    run_enabled,
)

ORDER_3M = im_order(every=None, start=400)  # ongoing IM order without a parseable interval
NEURO = condition(POLYNEUROPATHY, 400)
PA = condition(PERNICIOUS_ANAEMIA, 2000)


def overdue_case(
    days: int, expect: Indicator | None, *extra: Diagnosis | ProcedureRecord, says: str
) -> Case:
    return Case(says, record(ORDER_3M, injection(days), *extra), expect)


CASES = cases(
    # --- 3-monthly: 91 days + 14 grace = 105 ---------------------------------------------
    overdue_case(60, None, says="last injection 60 days ago on 3-monthly maintenance: on track"),
    overdue_case(105, None, says="last injection 105 days ago (91+14): still within grace"),
    overdue_case(106, "warning", says="last injection 106 days ago (91+14+1): overdue, warning"),
    overdue_case(
        300, "warning", says="300 days without a dose but no neuro or irreversible cause: warning"
    ),
    # --- neurological involvement: 61 + 14 = 75 ------------------------------------------
    overdue_case(
        75, None, NEURO, says="neuropathy, last injection 75 days ago (61+14): within grace"
    ),
    overdue_case(
        76, "warning", NEURO, says="neuropathy, last injection 76 days ago (61+14+1): overdue"
    ),
    # --- critical: more than twice the interval with neuro or an irreversible cause -------
    overdue_case(
        122, "warning", NEURO, says="neuropathy, 122 days (2x61) since the last dose: still warning"
    ),
    overdue_case(
        123, "critical", NEURO, says="neuropathy, 123 days (>2x61) since the last dose: critical"
    ),
    overdue_case(
        182, "warning", PA, says="pernicious anaemia, 182 days (2x91) since the last dose: warning"
    ),
    overdue_case(
        183,
        "critical",
        PA,
        says="pernicious anaemia, 183 days (>2x91) since the last dose: critical",
    ),
    overdue_case(
        200,
        "critical",
        procedure(GASTRECTOMY, 5000),
        says="gastrectomy as a completed procedure, 200 days since the last dose: critical",
    ),
    overdue_case(
        200,
        "critical",
        condition(ILEAL_RESECTION, 5000, status="resolved"),
        says="ileal resection recorded as resolved history still counts as irreversible: critical",
    ),
    # --- ordered interval --------------------------------------------------------------------
    Case(
        "monthly order, last injection 42 days ago (28+14): within grace",
        record(im_order(every=28, start=400), injection(42)),
        None,
    ),
    Case(
        "monthly order, last injection 43 days ago (28+14+1): overdue against the ordered interval",
        record(im_order(every=28, start=400), injection(43)),
        "warning",
    ),
    Case(
        "12-weekly order, last injection 99 days ago (84+14+1): overdue",
        record(im_order(every=84, start=400), injection(99)),
        "warning",
    ),
    Case(
        "12-weekly order, last injection 98 days ago (84+14): within grace",
        record(im_order(every=84, start=400), injection(98)),
        None,
    ),
    Case(
        "monthly interval guessed from free text is not trusted: 60 days is within 91+14",
        record(im_order(every=28, start=400, from_text=True), injection(60)),
        None,
    ),
    Case(
        "6-monthly order does not stretch the guideline interval: 106 days is overdue",
        record(im_order(every=182, start=400), injection(106)),
        "warning",
    ),
    Case(
        "weekly loading-course order is not a maintenance interval: 60 days is within 91+14",
        record(im_order(every=7, start=400), injection(60)),
        None,
    ),
    # --- maintenance recognised from the injection pattern, no order ----------------------
    Case(
        "no order, injections 84 days apart, last 106 days ago: overdue",
        record(injections(106, 190)),
        "warning",
    ),
    Case(
        "no order, only a weekly loading course, last dose 120 days ago: not on maintenance",
        record(injections(120, 127, 134, 141)),
        None,
    ),
    Case(
        "no B12 therapy at all: silent",
        record(b12(300, 30)),
        None,
    ),
    Case(
        "oral daily maintenance only, no injections: not IM maintenance",
        record(med(Agent.B12, Source.STATEMENT, start=400, route=Route.ORAL, every=1)),
        None,
    ),
    Case(
        "IM order stopped: past injections no longer mean maintenance (the stop is judged elsewhere)",
        record(im_order(every=84, start=400, status="stopped"), injection(200), injection(290)),
        None,
    ),
    Case(
        "no order recorded, injections 90 days apart show maintenance, last 200 days ago: warning",
        record(injection(200), injection(290)),
        "warning",
    ),
    # --- data quality ---------------------------------------------------------------------------
    Case(
        "last injection recorded only as 2026-08: counted from 31 Aug (86 days), within grace",
        record(ORDER_3M, injection("2026-08")),
        None,
    ),
    Case(
        "last injection recorded only as 2026-07: counted from 31 Jul (117 days), overdue",
        record(ORDER_3M, injection("2026-07")),
        "warning",
    ),
    Case(
        "an injection not given (status not-done) does not count as the last dose",
        record(ORDER_3M, injection(30, status="not-done"), injection(120)),
        "warning",
    ),
    Case(
        "IM order for a year and no injection recorded at all: info to check recording",
        record(im_order(every=84, start=400)),
        "info",
    ),
    Case(
        "no injection recorded with neuro and pernicious anaemia: never critical, only info",
        record(im_order(every=84, start=400), NEURO, PA),
        "info",
    ),
    Case(
        "IM order started 98 days ago and no injection yet (84+14): too early to ask",
        record(im_order(every=84, start=98)),
        None,
    ),
    Case(
        "IM order started 99 days ago and no injection yet (84+14+1): info",
        record(im_order(every=84, start=99)),
        "info",
    ),
    Case(
        "last injection in 2026 (year only): counted from 31 Dec, not overdue",
        record(ORDER_3M, injection("2026")),
        None,
    ),
)


@pytest.mark.parametrize("case", CASES)
def test_overdue(case: Case) -> None:
    assert_case(rule, case)


def test_partial_date_is_named_as_a_caveat() -> None:
    finding = run(rule, Case("partial", record(ORDER_3M, injection("2026-07")), "warning"))
    assert finding is not None
    assert any("2026-07" in c for c in finding.caveats)
    assert "2026-07" in finding.summary


def test_summary_carries_the_date_and_days() -> None:
    finding = run(rule, Case("x", record(ORDER_3M, injection(130)), "warning"))
    assert finding is not None
    assert finding.summary == "B12 injection overdue: last given 2026-07-18, 130 days ago"
    assert finding.suggestions and finding.override_reasons


def test_reader_gaps_reach_the_card() -> None:
    gap = DataGap("b12", "hydroxocobalamin administration has no date")
    finding = run(rule, Case("gap", record(ORDER_3M, injection(130), gap), "warning"))
    assert finding is not None and gap.message in finding.caveats


def test_loading_then_on_track_is_silent() -> None:
    """The protocol patient: loading done, 12-weekly maintenance, first dose 20 days ago."""
    r = record(injections(*LOADING_DONE), im_order(every=84, start=20), injection(20))
    assert run(rule, Case("on track", r, None)) is None


def test_disabled_in_policy() -> None:
    case = Case("fires", record(ORDER_3M, injection(130)), "warning")
    assert run_enabled(rule, case) is not None
    assert run_enabled(rule, disabled(rule, case)) is None
