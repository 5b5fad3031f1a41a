"""homocysteine-above-target: latest homocysteine at or above 10 umol/L (protocol target)."""

from __future__ import annotations

import pytest

from cds_service.record.model import Analyte, DataGap
from cds_service.rules import homocysteine_above_target as rule
from cds_service.rules.base import ProposeLabTests
from tests.rules.builders import (
    Case,
    assert_case,
    cases,
    disabled,
    hcy,
    im_order,
    injection,
    policy_with,
    record,
    run,
    run_enabled,
)

ON = (im_order(every=84, start=400), injection(30))
LAB_HIGH = policy_with({"thresholds.homocysteine_use_lab_reference_high": True})
TARGET_15 = policy_with({"thresholds.homocysteine_target_umol_l": 15})

CASES = cases(
    Case("homocysteine 9.9 umol/L: below target, silent", record(ON, hcy(9.9, 10)), None),
    Case("homocysteine 10.0 umol/L: at target, info", record(ON, hcy(10.0, 10)), "info"),
    Case("homocysteine 18 umol/L, no earlier result: info", record(ON, hcy(18, 10)), "info"),
    Case(
        "homocysteine rising 12 -> 14 on maintenance: warning",
        record(ON, hcy(14, 10), hcy(12, 100)),
        "warning",
    ),
    Case(
        "homocysteine falling 16 -> 12 on maintenance: info",
        record(ON, hcy(12, 10), hcy(16, 100)),
        "info",
    ),
    Case(
        "homocysteine rising 12 -> 14 but not on maintenance: info",
        record(hcy(14, 10), hcy(12, 100)),
        "info",
    ),
    Case(
        "earlier result censored (<12): rise not provable, info",
        record(ON, hcy(14, 10), hcy(12, 100, comparator="<")),
        "info",
    ),
    Case(
        "latest homocysteine 9 after an earlier 20: silent (latest counts)",
        record(ON, hcy(9, 10), hcy(20, 100)),
        None,
    ),
    Case("no homocysteine on record: silent", record(ON), None),
    # --- comparators and units -------------------------------------------------------------
    Case(
        "reported as >15 umol/L proves it is above 10: info",
        record(hcy(15, 10, comparator=">", shown=">15 umol/L")),
        "info",
    ),
    Case(
        "reported as <12 umol/L does not prove it is above 10: silent",
        record(hcy(12, 10, comparator="<", shown="<12 umol/L")),
        None,
    ),
    Case(
        "1.35 mg/L converted to 10.0 umol/L by the reader: info",
        record(hcy(10.0, 10, shown="1.352 mg/L")),
        "info",
    ),
    # --- policy ----------------------------------------------------------------------------
    Case(
        "site target 15: homocysteine 14.9 silent",
        record(hcy(14.9, 10)),
        None,
        policy=TARGET_15,
    ),
    Case(
        "site target 15: homocysteine 15 info",
        record(hcy(15, 10)),
        "info",
        policy=TARGET_15,
    ),
    Case(
        "lab upper limit 15 used by policy: homocysteine 12 silent",
        record(hcy(12, 10, reference_high=15)),
        None,
        policy=LAB_HIGH,
    ),
    Case(
        "lab upper limit 15 used by policy: homocysteine 15 info",
        record(hcy(15, 10, reference_high=15)),
        "info",
        policy=LAB_HIGH,
    ),
    Case(
        "lab upper limit wanted but absent: falls back to the target of 10",
        record(hcy(12, 10)),
        "info",
        policy=LAB_HIGH,
    ),
    Case(
        "lab upper limit sent but policy uses the protocol target: 12 is above 10",
        record(hcy(12, 10, reference_high=15)),
        "info",
    ),
)


@pytest.mark.parametrize("case", CASES)
def test_homocysteine(case: Case) -> None:
    assert_case(rule, case)


def test_card_lists_other_causes_and_suggests_mma_and_folate() -> None:
    gap = DataGap("homocysteine", "Homocysteine result of 2026-10-01 has no unit (skipped)")
    finding = run(rule, Case("x", record(ON, hcy(14, 10), gap), "info"))
    assert finding is not None
    assert "renal" in finding.advice and "MTHFR" in finding.advice
    (tests,) = finding.suggestions
    assert isinstance(tests, ProposeLabTests)
    assert set(tests.analytes) == {Analyte.MMA, Analyte.FOLATE}
    assert gap.message in finding.caveats
    assert "14 umol/L" in finding.summary


def test_disabled_in_policy() -> None:
    case = Case("fires", record(hcy(14, 10)), "info")
    assert run_enabled(rule, case) is not None
    assert run_enabled(rule, disabled(rule, case)) is None


def test_policy_can_raise_the_indicator() -> None:
    case = Case(
        "x",
        record(hcy(14, 10)),
        "info",
        policy=policy_with({"rules.homocysteine-above-target.indicator": "warning"}),
    )
    finding = run_enabled(rule, case)
    assert finding is not None and finding.indicator == "warning"
