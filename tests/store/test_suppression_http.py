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
    rule_of,
)

OVERDUE_WARNING = "fires-injection-overdue-106-days"
OVERDUE_CRITICAL = "fires-injection-overdue-critical-pa-200-days"
GIVEN_ELSEWHERE = {**NOT_APPLICABLE, "code": "given-elsewhere"}


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


def test_an_override_does_not_silence_a_more_urgent_card_of_the_rule(service: LiveService) -> None:
    """Set aside a warning ("given elsewhere"); weeks later the same rule is critical for the
    patient (the lapse is now long, the cause irreversible): the critical card is shown."""
    now = _iso(datetime.now(UTC))
    warning = issue_card(service.base_url, OVERDUE_WARNING, patient_id="patient-sup-e")
    assert warning["indicator"] == "warning"
    assert post_feedback(service.base_url, [overridden(warning, GIVEN_ELSEWHERE, now)]).ok
    # the same card again: held back
    again = fixture_request(OVERDUE_WARNING, patient_id="patient-sup-e")
    assert call(service.base_url, PATIENT_VIEW, again) == []
    worse = fixture_request(OVERDUE_CRITICAL, patient_id="patient-sup-e")
    cards = call(service.base_url, PATIENT_VIEW, worse)
    assert [(rule_of(c), c["indicator"]) for c in cards] == [
        ("maintenance-injection-overdue", "critical")
    ]
    # overriding the critical card holds back the critical card and anything milder
    assert post_feedback(service.base_url, [overridden(cards[0], GIVEN_ELSEWHERE, now)]).ok
    assert call(service.base_url, PATIENT_VIEW, worse) == []
    assert call(service.base_url, PATIENT_VIEW, again) == []


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
