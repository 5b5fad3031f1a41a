"""The counters other parts of the edge call (FHIR fallback, rule failures), in process."""

from __future__ import annotations

import os

import pytest
from prometheus_client.parser import text_string_to_metric_families

from cds_service.edge import metrics


def _value(name: str, **labels: str) -> float:
    text = metrics.exposition().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


@pytest.fixture(autouse=True)
def single_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(metrics.ENV, raising=False)
    assert not os.environ.get(metrics.ENV)


def test_fhir_fetch_outcomes_are_counted_with_a_small_label_set() -> None:
    before_ok = _value("b12cds_fhir_fetches_total", outcome="ok")
    before_timeout = _value("b12cds_fhir_fetches_total", outcome="timeout")
    before_error = _value("b12cds_fhir_fetches_total", outcome="error")
    metrics.fhir_fetch("ok", 3)
    metrics.fhir_fetch("timeout")
    metrics.fhir_fetch("something odd")  # unknown kinds count as errors
    assert _value("b12cds_fhir_fetches_total", outcome="ok") == before_ok + 3
    assert _value("b12cds_fhir_fetches_total", outcome="timeout") == before_timeout + 1
    assert _value("b12cds_fhir_fetches_total", outcome="error") == before_error + 1
    assert _value("b12cds_fhir_fetches_total", outcome="something odd") == 0


def test_rule_failures_are_counted_by_rule() -> None:
    before = _value("b12cds_rule_failures_total", rule="metformin-b12-check")
    metrics.rule_failed("metformin-b12-check")
    assert _value("b12cds_rule_failures_total", rule="metformin-b12-check") == before + 1
