"""GET /metrics after a known sequence of calls, summed across gunicorn workers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.support.live import LiveService
from tests.support.store_calls import (
    LOADING_DONE,
    NOT_APPLICABLE,
    ORDER_SIGN,
    PATIENT_VIEW,
    STOPPING_B12,
    accepted,
    call,
    fixture_request,
    issue_card,
    overridden,
    post_feedback,
    start_store_service,
)

WORKERS = 3
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    db = Path(tmp_path_factory.mktemp("metrics")) / "b12cds.sqlite3"
    live = start_store_service(f"sqlite:///{db}", workers=WORKERS)
    yield live
    live.stop()


def scrape(base_url: str) -> Samples:
    response = requests.get(f"{base_url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_count_a_known_sequence(service: LiveService) -> None:
    base = service.base_url
    assert value(scrape(base), "b12cds_up") == 1  # a series even before the first call
    cards = [issue_card(base, patient_id=f"patient-metrics-{i}") for i in range(3)]  # 3 x 200
    issue_card(base, STOPPING_B12, ORDER_SIGN)  # 1 x 200 on order-sign, a critical card
    bad = requests.post(f"{base}/cds-services/{PATIENT_VIEW}", data=b"{not json", timeout=10)
    assert bad.status_code == 400
    unknown = requests.post(f"{base}/cds-services/no-such-service", json={}, timeout=10)
    assert unknown.status_code == 404
    assert (
        post_feedback(base, [accepted(cards[0]), overridden(cards[1], NOT_APPLICABLE)]).status_code
        == 200
    )
    assert post_feedback(base, [accepted(cards[0])]).status_code == 200  # duplicate: not counted
    # patient 1 overrode as not applicable: the card is held back, the call still 200
    held_back = fixture_request(LOADING_DONE, patient_id="patient-metrics-1")
    assert call(base, PATIENT_VIEW, held_back) == []

    # every worker answers with the same totals: they are summed over processes
    scrapes = [scrape(base) for _ in range(2 * WORKERS)]
    assert all(s == scrapes[0] for s in scrapes[1:])
    samples = scrapes[-1]
    calls = "b12cds_hook_calls_total"
    assert value(samples, calls, service=PATIENT_VIEW, status="200") == 4
    assert value(samples, calls, service=PATIENT_VIEW, status="400") == 1
    assert value(samples, calls, service=ORDER_SIGN, status="200") == 1
    assert value(samples, calls, service="unknown", status="404") == 1
    assert value(samples, "b12cds_hook_duration_seconds_count", service=PATIENT_VIEW) == 5
    assert (
        value(samples, "b12cds_hook_duration_seconds_bucket", service=PATIENT_VIEW, le="+Inf") == 5
    )
    assert value(samples, "b12cds_hook_duration_seconds_sum", service=PATIENT_VIEW) > 0
    cards_total = "b12cds_cards_total"
    assert value(samples, cards_total, rule="maintenance-not-started", indicator="warning") == 3
    assert value(samples, cards_total, rule="b12-therapy-stopped", indicator="critical") == 1
    feedback = "b12cds_feedback_total"
    assert value(samples, feedback, rule="maintenance-not-started", outcome="accepted") == 1
    assert value(samples, feedback, rule="maintenance-not-started", outcome="overridden") == 1
    suppressed = "b12cds_cards_suppressed_total"
    assert value(samples, suppressed, rule="maintenance-not-started", reason="overridden") == 1
    assert not [k for k in samples if "patient-metrics" in repr(k)]
