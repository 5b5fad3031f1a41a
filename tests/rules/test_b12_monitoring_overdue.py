"""b12-monitoring-overdue: B12/homocysteine every 3 months until stable, then yearly (+14 days)."""

from __future__ import annotations

import pytest

from cds_service.record.model import LabResult, PatientRecord
from cds_service.rules import b12_monitoring_overdue as rule
from cds_service.rules.base import ProposeLabTests
from tests.rules.builders import (
    Case,
    Item,
    assert_case,
    b12,
    cases,
    disabled,
    hcy,
    holotc,
    im_order,
    injection,
    injections,
    phq9,
    policy_with,
    record,
    run,
    run_enabled,
)

ON = (im_order(every=84, start=600), injection(30))  # maintenance for 600 days
UK = policy_with({"monitoring_profile": "uk-guideline"})


def stable_pair(
    latest: int, *, gap: int = 100, b12_value: float = 400, hcy_value: float = 8
) -> tuple[LabResult, ...]:
    """Two B12 results on maintenance `gap` days apart and a homocysteine with the latest."""
    return (b12(b12_value, latest), b12(400, latest + gap), hcy(hcy_value, latest))


def maintained(*items: Item) -> PatientRecord:
    return record(ON, *items)


CASES = cases(
    # --- not yet stable: 91 + 14 = 105 days ------------------------------------------------
    Case(
        "B12 and homocysteine 105 days ago, not yet stable: silent",
        maintained(b12(600, 105), hcy(8, 105)),
        None,
    ),
    Case(
        "B12 106 days ago, homocysteine recent: info", maintained(b12(600, 106), hcy(8, 20)), "info"
    ),
    Case(
        "homocysteine 106 days ago, B12 recent: info", maintained(b12(600, 20), hcy(8, 106)), "info"
    ),
    Case(
        "active B12 (holoTC) 20 days ago counts as the B12 check",
        maintained(holotc(120, 20), b12(600, 300), hcy(8, 20)),
        None,
    ),
    Case("nothing measured for 600 days of maintenance: info", maintained(), "info"),
    # --- stable: 365 + 14 = 379 days ----------------------------------------------------
    Case(
        "stable, last tests 200 days ago: yearly checks, silent",
        maintained(*stable_pair(200)),
        None,
    ),
    Case("stable, last tests 379 days ago: silent", maintained(*stable_pair(379, gap=70)), None),
    Case("stable, last tests 380 days ago: info", maintained(*stable_pair(380, gap=70)), "info"),
    # --- each side of the stability definition (tests 200 days ago) ------------------------
    Case(
        "latest B12 257.9 pmol/L is not adequate: not stable, info",
        maintained(*stable_pair(200, b12_value=257.9)),
        "info",
    ),
    Case(
        "latest B12 258 pmol/L is adequate: stable, silent",
        maintained(*stable_pair(200, b12_value=258)),
        None,
    ),
    Case(
        "two adequate B12 results only 60 days apart: not stable, info",
        maintained(*stable_pair(200, gap=60)),
        "info",
    ),
    Case(
        "two adequate B12 results 61 days apart: stable, silent",
        maintained(*stable_pair(200, gap=61)),
        None,
    ),
    Case(
        "homocysteine 10.0 (at target): not stable, info",
        maintained(*stable_pair(200, hcy_value=10.0)),
        "info",
    ),
    Case(
        "homocysteine 9.9 (below target): stable, silent",
        maintained(*stable_pair(200, hcy_value=9.9)),
        None,
    ),
    Case(
        "homocysteine reported as <12 does not prove it is below 10: not stable, info",
        maintained(b12(400, 200), b12(400, 300), hcy(12, 200, comparator="<", shown="<12 umol/L")),
        "info",
    ),
    Case(
        "B12 reported as >1476 pmol/L proves adequacy: stable, silent",
        maintained(b12(1476, 200, comparator=">"), b12(400, 300), hcy(8, 200)),
        None,
    ),
    Case(
        "PHQ-9 rose by 5 on maintenance: symptom recurrence, not stable, info",
        maintained(*stable_pair(200), phq9(12, 150), phq9(7, 250)),
        "info",
    ),
    Case(
        "PHQ-9 rose before treatment and fell since: that is not a recurrence, stable, silent",
        maintained(*stable_pair(200), phq9(6, 500), phq9(18, 800), phq9(8, 900)),
        None,
    ),
    Case(
        "adequate B12 results before maintenance started do not make it stable",
        record(
            im_order(every=84, start=250), injection(30), b12(400, 200), b12(400, 300), hcy(8, 200)
        ),
        "info",
    ),
    # --- maintenance start ----------------------------------------------------------------
    Case(
        "maintenance started 105 days ago, nothing measured yet: not due yet",
        record(im_order(every=84, start=105)),
        None,
    ),
    Case(
        "maintenance started 106 days ago, nothing measured since: info",
        record(im_order(every=84, start=106)),
        "info",
    ),
    Case(
        "maintenance by injection pattern only (~90 days apart): tests 200 days ago, info",
        record(injections(20, 110, 200), b12(500, 210), hcy(8, 210)),
        "info",
    ),
    Case(
        "maintenance started 20 days ago, last tests before it: first check not yet due, silent",
        record(injections(20, 104), b12(500, 200), hcy(8, 200)),
        None,
    ),
    Case(
        "not on maintenance (loading just done): silent",
        record(injections(49, 56, 63, 70)),
        None,
    ),
    Case("no B12 therapy at all: silent", record(b12(100, 900)), None),
    # --- uk-guideline profile: symptom review instead of B12 re-testing -------------------
    Case(
        "uk-guideline: no B12 ever re-tested but PHQ-9 20 days ago: silent",
        maintained(phq9(4, 20)),
        None,
        policy=UK,
    ),
    Case(
        "uk-guideline: settled on maintenance, symptom review 379 days ago: silent",
        maintained(phq9(4, 379)),
        None,
        policy=UK,
    ),
    Case(
        "uk-guideline: settled on maintenance, symptom review 380 days ago: info",
        maintained(phq9(4, 380)),
        "info",
        policy=UK,
    ),
    Case(
        "uk-guideline: started 200 days ago, no review since: info",
        record(im_order(every=84, start=200)),
        "info",
        policy=UK,
    ),
    Case(
        "uk-guideline: started 105 days ago, no review yet: not due",
        record(im_order(every=84, start=105)),
        None,
        policy=UK,
    ),
)


@pytest.mark.parametrize("case", CASES)
def test_monitoring(case: Case) -> None:
    assert_case(rule, case)


def test_orders_only_what_is_overdue_and_never_reassures_on_high_b12() -> None:
    finding = run(rule, Case("x", maintained(b12(900, 20), hcy(8, 200)), "info"))
    assert finding is not None
    (tests,) = finding.suggestions
    assert isinstance(tests, ProposeLabTests)
    assert [a.value for a in tests.analytes] == ["homocysteine"]
    assert "does not show the interval is adequate" in finding.advice


def test_uk_profile_never_orders_b12() -> None:
    finding = run(rule, Case("x", record(im_order(every=84, start=200)), "info", policy=UK))
    assert finding is not None
    assert not any(isinstance(s, ProposeLabTests) for s in finding.suggestions)


def test_disabled_in_policy() -> None:
    case = Case("fires", maintained(), "info")
    assert run_enabled(rule, case) is not None
    assert run_enabled(rule, disabled(rule, case)) is None
