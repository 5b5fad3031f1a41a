"""symptoms-recurring: a PHQ-9 item 9 answer above 0 is a critical card of its own, whatever
the total score did, and is never held back by an earlier override."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cds_service.record.model import Analyte
from cds_service.rules import symptoms_recurring as rule
from tests.rules.builders import (
    POLICY,
    Case,
    im_order,
    injection,
    lab,
    phq9,
    record,
    run,
)

ON = (im_order(every=84, start=400), injection(30), injection(114))


def item9(value: float, when: int) -> object:
    return lab(Analyte.PHQ9_ITEM9, value, when)


def test_item_9_above_0_is_critical_with_the_total_unchanged() -> None:
    finding = run(rule, Case("", record(ON, phq9(8, 5), phq9(8, 60), item9(1, 5)), None))
    assert finding is not None and finding.indicator == "critical" and finding.safety
    assert "self-harm" in finding.summary and "today" in finding.advice


def test_item_9_counts_for_a_patient_not_on_maintenance() -> None:
    finding = run(rule, Case("", record(item9(2, 3)), None))
    assert finding is not None and finding.indicator == "critical"


def test_item_9_of_0_or_older_than_the_window_is_silent() -> None:
    assert run(rule, Case("", record(item9(0, 3)), None)) is None
    assert run(rule, Case("", record(item9(1, 30)), None)) is not None  # window: 30 days
    assert run(rule, Case("", record(item9(1, 31)), None)) is None


def test_a_recurrence_with_a_self_harm_answer_is_one_critical_card_carrying_both() -> None:
    rec = record(ON, phq9(15, 10), phq9(4, 25), item9(1, 10))
    finding = run(rule, Case("", rec, None))
    assert finding is not None and finding.indicator == "critical"
    assert any(line.startswith("Also: Symptoms returning") for line in finding.evidence)


def test_the_safety_card_is_never_held_back_by_an_earlier_override(monkeypatch: Any) -> None:
    from cds_service.edge import ledger
    from cds_service.store.audit import HookCall

    safety = run(rule, Case("", record(item9(1, 3)), None))
    recurrence = run(rule, Case("", record(ON, phq9(15, 10), phq9(4, 25)), None))
    assert safety is not None and recurrence is not None and not recurrence.safety
    asked: list[set[str]] = []

    def every_rule_overridden(store: Any, call: Any, rules: set[str], *_: Any) -> dict[str, str]:
        asked.append(set(rules))
        return dict.fromkeys(rules, "overridden")

    monkeypatch.setattr(ledger, "suppressed_rules", every_rule_overridden)
    call = HookCall(
        service_id="b12-patient-view", hook_instance="h", patient_id="p", encounter_id=None
    )
    now = datetime.now(UTC)
    assert ledger.hold_back(object(), POLICY, call, [safety], now) == (safety,)  # type: ignore[arg-type]
    assert asked == []  # a safety card alone never asks the store
    assert ledger.hold_back(object(), POLICY, call, [recurrence], now) == ()  # type: ignore[arg-type]
