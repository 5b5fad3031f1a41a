"""neurological-review: new neurological involvement in B12 deficiency, no alternate-day course."""

from __future__ import annotations

from typing import Any

import pytest

from cds_service.record.model import PatientRecord
from cds_service.rules import neurological_review as rule
from cds_service.rules.base import ProposeB12Injection
from tests.rules.builders import (
    B12_DEFICIENCY,
    PARAESTHESIA_FOOT,
    PERNICIOUS_ANAEMIA,
    POLYNEUROPATHY,
    SCD,
    Case,
    Item,
    When,
    assert_case,
    b12,
    cases,
    condition,
    disabled,
    holotc,
    im_order,
    injections,
    record,
    run,
    run_enabled,
)

DEFICIENT = condition(B12_DEFICIENCY, 200)


def neuro(
    onset: When | None, *items: Item, code: str = PARAESTHESIA_FOOT, **kw: Any
) -> PatientRecord:
    return record(condition(code, onset, **kw), *items)


CASES = cases(
    Case(
        "paraesthesia 10 days ago in coded B12 deficiency: warning", neuro(10, DEFICIENT), "warning"
    ),
    Case("paraesthesia 30 days ago: still new, warning", neuro(30, DEFICIENT), "warning"),
    Case("paraesthesia 31 days ago: no longer new, silent", neuro(31, DEFICIENT), None),
    Case("paraesthesia today: warning", neuro(0, DEFICIENT), "warning"),
    Case(
        "onset unknown, recorded 5 days ago: the recorded date counts, warning",
        neuro(None, DEFICIENT, recorded=5),
        "warning",
    ),
    Case(
        "onset recorded only as 2026-11 (this month): new, warning",
        neuro("2026-11", DEFICIENT),
        "warning",
    ),
    Case(
        "onset recorded only as 2026-09: at most 55 days ago, silent",
        neuro("2026-09", DEFICIENT),
        None,
    ),
    Case("no date at all on the neurological condition: silent", neuro(None, DEFICIENT), None),
    Case(
        "new paraesthesia already resolved: silent", neuro(10, DEFICIENT, status="resolved"), None
    ),
    Case("new paraesthesia but no sign of B12 deficiency: silent", neuro(10, b12(400, 30)), None),
    Case(
        "new paraesthesia with latest B12 132.9 pmol/L: warning",
        neuro(10, b12(132.9, 30)),
        "warning",
    ),
    Case("new paraesthesia with latest B12 133 pmol/L: silent", neuro(10, b12(133, 30)), None),
    Case(
        "new paraesthesia with active B12 24.9 pmol/L: warning",
        neuro(10, holotc(24.9, 30)),
        "warning",
    ),
    Case(
        "new paraesthesia with B12 reported as <150 pg/mL (<110.7 pmol/L): warning",
        neuro(10, b12(110.7, 30, comparator="<", shown="<150 pg/mL")),
        "warning",
    ),
    Case(
        "new paraesthesia with B12 reported as <200 pg/mL (may be 133-148): silent",
        neuro(10, b12(147.6, 30, comparator="<", shown="<200 pg/mL")),
        None,
    ),
    Case(
        "new paraesthesia in a patient on B12 maintenance (deficiency treated): warning",
        neuro(10, im_order(every=84, start=300), *injections(60)),
        "warning",
    ),
    # --- alternate-day course ---------------------------------------------------------------
    Case(
        "2 injections in the last 14 days: no alternate-day course, warning",
        neuro(10, DEFICIENT, *injections(2, 4)),
        "warning",
    ),
    Case(
        "3 injections in the last 14 days: alternate-day course running, silent",
        neuro(10, DEFICIENT, *injections(2, 4, 6)),
        None,
    ),
    Case(
        "3 injections but one 15 days ago: only 2 in the window, warning",
        neuro(10, DEFICIENT, *injections(2, 4, 15)),
        "warning",
    ),
    Case(
        "3 injections, the oldest exactly 14 days ago: silent",
        neuro(10, DEFICIENT, *injections(2, 8, 14)),
        None,
    ),
    Case(
        "active alternate-day IM order, no doses charted yet: silent",
        neuro(10, DEFICIENT, im_order(every=2, start=1)),
        None,
    ),
    Case(
        "active 2-monthly IM order only: not an alternate-day course, warning",
        neuro(10, DEFICIENT, im_order(every=56, start=200)),
        "warning",
    ),
    # --- critical --------------------------------------------------------------------------
    Case(
        "new subacute combined degeneration (G32.0): critical",
        neuro(5, DEFICIENT, code=SCD),
        "critical",
    ),
    Case(
        "new polyneuropathy in pernicious anaemia: warning",
        neuro(5, condition(PERNICIOUS_ANAEMIA, 900), code=POLYNEUROPATHY),
        "warning",
    ),
    Case(
        "SCD on alternate-day course (3 doses in 14 days): silent",
        neuro(5, DEFICIENT, *injections(1, 3, 5), code=SCD),
        None,
    ),
)


@pytest.mark.parametrize("case", CASES)
def test_neurological(case: Case) -> None:
    assert_case(rule, case)


def test_suggests_alternate_day_course() -> None:
    finding = run(rule, Case("x", neuro(10, DEFICIENT), "warning"))
    assert finding is not None
    (course,) = finding.suggestions
    assert isinstance(course, ProposeB12Injection) and course.interval_days == 2
    assert "urgent specialist advice" in finding.advice


def test_disabled_in_policy() -> None:
    case = Case("fires", neuro(10, DEFICIENT), "warning")
    assert run_enabled(rule, case) is not None
    assert run_enabled(rule, disabled(rule, case)) is None
