"""maintenance-interval-too-long: IM maintenance ordered less often than every 3 (2) months."""

from __future__ import annotations

from typing import Any

import pytest

from cds_service.record.model import PatientRecord
from cds_service.rules import maintenance_interval_too_long as rule
from cds_service.rules.base import ChangeOrderInterval, Indicator
from tests.rules.builders import (
    POLYNEUROPATHY,
    Case,
    assert_case,
    cases,
    condition,
    disabled,
    draft,
    folic_acid,
    im_order,
    oral_b12,
    orders,
    record,
    run,
    run_enabled,
)

PLAIN = record()
NEURO = record(condition(POLYNEUROPATHY, 400))
OLD_RESOLVED_NEURO = record(condition(POLYNEUROPATHY, 2000, status="resolved", abated=1500))


def ordered(
    says: str,
    every: float | None,
    expect: Indicator | None,
    rec: PatientRecord = PLAIN,
    *,
    hook: str = "order-sign",
    selected: bool = True,
    **kw: Any,
) -> Case:
    order = draft(im_order(every=every, start=0, **kw), selected=selected)
    return Case(says, rec, expect, orders=orders(order), hook=hook)


CASES = cases(
    ordered("every 92 days is the 3-month limit: silent", 92, None),
    ordered("every 93 days is longer than 3 months: warning", 93, "warning"),
    ordered("every 12 weeks (84 days), the usual maintenance: silent", 84, None),
    ordered("every 6 months: warning", 182, "warning"),
    ordered("monthly is never flagged", 28, None),
    ordered("monthly is never flagged, with neuropathy either", 28, None, NEURO),
    ordered("weekly is never flagged", 7, None),
    ordered("neuropathy, every 62 days is the 2-month limit: silent", 62, None, NEURO),
    ordered("neuropathy, every 63 days: warning", 63, "warning", NEURO),
    ordered("neuropathy, every 12 weeks: warning at the 2-month limit", 84, "warning", NEURO),
    ordered(
        "neuropathy resolved years ago still sets the 2-month limit (lifelong)",
        84,
        "warning",
        OLD_RESOLVED_NEURO,
    ),
    ordered(
        "interval guessed from free text (every 6 months): info only", 182, "info", from_text=True
    ),
    ordered("no interval at all: nothing to judge", None, None),
    ordered("a single dose (count 1) is not maintenance", 182, None, count=1),
    ordered("a single dose bounded to 2 weeks is not maintenance", 182, None, bounds_days=14),
    ordered(
        "6-monthly x 4 doses (two years of repeats) is a long interval: warning",
        182,
        "warning",
        count=4,
    ),
    ordered("6-monthly x 2 doses: warning", 182, "warning", count=2),
    ordered("6-monthly for a year (bounded 365 days): warning", 182, "warning", bounds_days=365),
    ordered("12-weekly x 4 doses: silent", 84, None, count=4),
    ordered("alternate-day loading course x 6 doses: silent", 2, None, count=6),
    ordered(
        "order-select: 6-monthly order in selections: warning", 182, "warning", hook="order-select"
    ),
    ordered(
        "order-select: 6-monthly order not in selections: silent",
        182,
        None,
        hook="order-select",
        selected=False,
    ),
    Case(
        "a stop of a 6-monthly order is not a new interval",
        PLAIN,
        None,
        orders=orders(draft(im_order(every=182, start=0), status="stopped")),
        hook="order-sign",
    ),
    Case(
        "an oral B12 order is not an IM interval (other rules judge oral)",
        PLAIN,
        None,
        orders=orders(draft(oral_b12(1.0))),
        hook="order-sign",
    ),
    Case(
        "only folic acid ordered: silent",
        PLAIN,
        None,
        orders=orders(draft(folic_acid())),
        hook="order-sign",
    ),
    Case(
        "the active 6-monthly order in the record is not an order being placed: silent",
        record(im_order(every=182, start=100)),
        None,
        orders=orders(draft(folic_acid())),
        hook="order-sign",
    ),
    Case("no draft orders at all (patient-view): silent", PLAIN, None),
)


@pytest.mark.parametrize("case", CASES)
def test_interval(case: Case) -> None:
    assert_case(rule, case)


def test_suggests_12_weeks_or_8_weeks_with_neuro() -> None:
    for rec, weeks in ((PLAIN, 84), (NEURO, 56)):
        finding = run(rule, ordered("x", 182, "warning", rec))
        assert finding is not None
        (change,) = finding.suggestions
        assert isinstance(change, ChangeOrderInterval) and change.interval_days == weeks


def test_text_guess_is_named_as_a_caveat() -> None:
    finding = run(rule, ordered("x", 182, "info", from_text=True))
    assert finding is not None and any("free-text" in c for c in finding.caveats)


def test_disabled_in_policy() -> None:
    case = ordered("fires", 182, "warning")
    assert run_enabled(rule, case) is not None
    assert run_enabled(rule, disabled(rule, case)) is None
