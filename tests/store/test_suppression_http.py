"""Alert-fatigue controls over real HTTP (policy `suppression`: 90 days, not-applicable-type
reasons, once per encounter), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.support.live import LiveService
from tests.support.store_calls import (
    DECLINED,
    LOADING_DONE,
    NOT_APPLICABLE,
    ORDER_SIGN,
    PATIENT_VIEW,
    STOPPING_B12,
    call,
    fixture_request,
    issue_card,
    overridden,
    post_feedback,
    query,
)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _cards(service: LiveService, patient: str, encounter: str | None = None) -> list[str]:
    body = fixture_request(LOADING_DONE, patient_id=patient, encounter_id=encounter)
    return [c["source"]["topic"]["code"] for c in call(service.base_url, PATIENT_VIEW, body)]


def test_overridden_as_not_applicable_stays_away_for_that_patient_only(
    service: LiveService, database_url: str
) -> None:
    now = datetime.now(UTC)
    card = issue_card(service.base_url, patient_id="patient-sup-a")
    assert (
        post_feedback(service.base_url, [overridden(card, NOT_APPLICABLE, _iso(now))]).status_code
        == 200
    )
    assert _cards(service, "patient-sup-a") == []
    assert _cards(service, "patient-sup-a") == []
    assert _cards(service, "patient-sup-b") == ["maintenance-not-started"]

    # a reason that is not "not applicable"-type does not silence the rule
    declined = issue_card(service.base_url, patient_id="patient-sup-c")
    assert (
        post_feedback(service.base_url, [overridden(declined, DECLINED, _iso(now))]).status_code
        == 200
    )
    assert _cards(service, "patient-sup-c") == ["maintenance-not-started"]

    # an override older than the period (90 days) no longer holds the card back
    old = issue_card(service.base_url, patient_id="patient-sup-d")
    long_ago = _iso(now - timedelta(days=91))
    assert (
        post_feedback(service.base_url, [overridden(old, NOT_APPLICABLE, long_ago)]).status_code
        == 200
    )
    assert _cards(service, "patient-sup-d") == ["maintenance-not-started"]
    within = _iso(now - timedelta(days=89))
    assert (
        post_feedback(service.base_url, [overridden(old, NOT_APPLICABLE, within)]).status_code
        == 200
    )
    assert _cards(service, "patient-sup-d") == []

    # nothing in the database names a patient
    dump = repr(query(database_url, "SELECT * FROM issued_card")) + repr(
        query(database_url, "SELECT * FROM feedback")
    )
    assert "patient-sup" not in dump
    log = service.log_text()
    assert "card_suppressed" in log and "patient-sup" not in log


def test_a_card_is_shown_once_per_encounter(service: LiveService) -> None:
    assert _cards(service, "patient-enc-a", "enc-1") == ["maintenance-not-started"]
    assert _cards(service, "patient-enc-a", "enc-1") == []
    assert _cards(service, "patient-enc-a", "enc-2") == ["maintenance-not-started"]
    assert _cards(service, "patient-enc-b", "enc-1") == ["maintenance-not-started"]
    # without an encounter there is nothing to key on: shown each time
    assert _cards(service, "patient-enc-c") == ["maintenance-not-started"]
    assert _cards(service, "patient-enc-c") == ["maintenance-not-started"]
    # order-sign warnings are about the order being signed: never held back per encounter
    for _ in range(2):
        body = fixture_request(STOPPING_B12, encounter_id="enc-1")
        assert [c["indicator"] for c in call(service.base_url, ORDER_SIGN, body)] == ["critical"]
