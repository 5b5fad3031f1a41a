"""symptoms-recurring: PHQ-9 worsens on maintenance before the next dose is due."""

from __future__ import annotations

import pytest

from cds_service.record.model import Agent, Analyte, PatientRecord, Route, Source
from cds_service.rules import symptoms_recurring as rule
from cds_service.rules.base import ChangeOrderInterval
from tests.rules.builders import (
    DEPRESSION,
    DIETARY_B12_DEFICIENCY,
    POLYNEUROPATHY,
    Case,
    Item,
    assert_case,
    cases,
    condition,
    disabled,
    im_order,
    injection,
    injections,
    lab,
    med,
    phq9,
    record,
    run,
    run_enabled,
)

ORDER = im_order(every=84, start=400)
ON = (ORDER, injection(30), injection(114))  # next dose due 54 days from now


def on(*items: Item) -> PatientRecord:
    return record(ON, *items)


ORAL = med(
    Agent.B12, Source.STATEMENT, start=400, route=Route.ORAL, every=1, name="cyanocobalamin 1 mg"
)
DIETARY = condition(DIETARY_B12_DEFICIENCY, 600)
# no order, injections 91 days apart, the last 100 days ago: the next was due 9 days ago
PATTERN = injections(100, 191)

CASES = cases(
    Case("PHQ-9 2 -> 6 (rise of 4, stays mild): silent", on(phq9(6, 10), phq9(2, 25)), None),
    Case("PHQ-9 2 -> 7 (rise of 5): info", on(phq9(7, 10), phq9(2, 25)), "info"),
    Case("PHQ-9 9 -> 10 (crosses into moderate): info", on(phq9(10, 10), phq9(9, 25)), "info"),
    Case("PHQ-9 8 -> 9 (stays below 10): silent", on(phq9(9, 10), phq9(8, 25)), None),
    Case(
        "PHQ-9 10 -> 14 (rise of 4, already moderate): silent", on(phq9(14, 10), phq9(10, 25)), None
    ),
    Case("PHQ-9 12 -> 5 (improving): silent", on(phq9(5, 10), phq9(12, 25)), None),
    Case("one PHQ-9 only: nothing to compare, silent", on(phq9(15, 10)), None),
    Case(
        "rise recorded before the last injection (40 days ago): silent",
        on(phq9(15, 40), phq9(4, 60)),
        None,
    ),
    Case(
        "PHQ-9 censored (>=10 shown as comparator): no proof of a rise, silent",
        on(phq9(10, 10, comparator=">="), phq9(2, 25)),
        None,
    ),
    # --- the window: after the last dose and before the next is due --------------------------
    Case(
        "injections 91 days apart, PHQ-9 rise on the day the next dose was due: info",
        record(PATTERN, phq9(12, 9), phq9(3, 60)),
        "info",
    ),
    Case(
        "injections 91 days apart, PHQ-9 rise the day after the next dose was due: silent",
        record(PATTERN, phq9(12, 8), phq9(3, 60)),
        None,
    ),
    Case(
        "neuropathy (2-monthly), PHQ-9 rise 61 days after the last dose: info",
        record(injections(70, 131), condition(POLYNEUROPATHY, 900), phq9(12, 9), phq9(3, 40)),
        "info",
    ),
    Case(
        "neuropathy (2-monthly), PHQ-9 rise 62 days after the last dose: silent",
        record(injections(70, 131), condition(POLYNEUROPATHY, 900), phq9(12, 8), phq9(3, 40)),
        None,
    ),
    Case(
        "oral daily maintenance, PHQ-9 rise 105 days ago (91+14): info",
        record(ORAL, DIETARY, phq9(12, 105), phq9(3, 200)),
        "info",
    ),
    Case(
        "oral daily maintenance, PHQ-9 rise 106 days ago: too old, silent",
        record(ORAL, DIETARY, phq9(12, 106), phq9(3, 200)),
        None,
    ),
    Case(
        "an over-the-counter B12 tablet, never shown deficient: not maintenance, silent",
        record(ORAL, phq9(12, 10), phq9(3, 200)),
        None,
    ),
    # --- indicator -------------------------------------------------------------------------
    Case(
        "PHQ-9 worsened in two intervals (4 -> 11, later 5 -> 12): warning",
        on(phq9(12, 10), phq9(5, 100), phq9(11, 150), phq9(4, 300)),
        "warning",
    ),
    Case(
        "new neuropathy recorded 10 days ago, after the last dose: warning",
        on(phq9(10, 10), phq9(9, 25), condition(POLYNEUROPATHY, 10)),
        "warning",
    ),
    Case(
        "neuropathy known for years (before the last dose): info",
        on(phq9(10, 10), phq9(9, 25), condition(POLYNEUROPATHY, 900)),
        "info",
    ),
    Case(
        "not on maintenance (no B12 therapy): silent",
        record(phq9(20, 10), phq9(2, 25), condition(DEPRESSION)),
        None,
    ),
)


@pytest.mark.parametrize("case", CASES)
def test_symptoms(case: Case) -> None:
    assert_case(rule, case)


@pytest.mark.parametrize(
    ("every", "offered"),
    [
        pytest.param(84, [56, 28], id="12-weekly order: offer 8 weeks or 4 weeks"),
        pytest.param(56, [28], id="8-weekly order: offer 4 weeks"),
        pytest.param(28, [], id="monthly order: nothing shorter to offer"),
    ],
)
def test_suggests_only_shorter_intervals(every: int, offered: list[int]) -> None:
    order = im_order(every=every, start=400)
    r = record(order, injection(20), phq9(12, 10), phq9(3, 18))
    finding = run(rule, Case("x", r, "info"))
    assert finding is not None
    changes = [s for s in finding.suggestions if isinstance(s, ChangeOrderInterval)]
    assert [c.interval_days for c in changes] == offered
    assert all(c.order_ref == order.ref for c in changes)


def test_item9_is_called_out() -> None:
    r = on(phq9(12, 10), phq9(3, 25), lab(Analyte.PHQ9_ITEM9, 1, 10))
    finding = run(rule, Case("x", r, "info"))
    assert finding is not None
    assert any("item 9" in line for line in finding.evidence)


def test_disabled_in_policy() -> None:
    case = Case("fires", on(phq9(7, 10), phq9(2, 25)), "info")
    assert run_enabled(rule, case) is not None
    assert run_enabled(rule, disabled(rule, case)) is None
