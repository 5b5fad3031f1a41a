"""Feedback over real HTTP into a real database (SQLite and PostgreSQL, see conftest)."""

from __future__ import annotations

import requests

from tests.support.live import LiveService
from tests.support.schemas import assert_operation_outcome
from tests.support.store_calls import (
    DECLINED,
    NOT_APPLICABLE,
    ORDER_SIGN,
    PATIENT_VIEW,
    STOPPING_B12,
    accepted,
    count,
    issue_card,
    overridden,
    post_feedback,
    query,
    report,
    rule_of,
)


def test_issued_cards_are_ledgered_without_patient_data(
    service: LiveService, database_url: str
) -> None:
    card = issue_card(service.base_url, patient_id="patient-ledger-1")
    rows = query(
        database_url,
        "SELECT card_uuid, service_id, rule_id, indicator, hook_instance, patient_key FROM issued_card",
    )
    assert len(rows) == 1
    card_uuid, service_id, rule_id, indicator, hook_instance, patient_key = rows[0]
    assert (card_uuid, service_id, rule_id, indicator) == (
        card["uuid"],
        PATIENT_VIEW,
        rule_of(card),
        card["indicator"],
    )
    assert hook_instance
    assert len(patient_key) == 64 and "patient-ledger-1" not in patient_key
    suggestions = query(database_url, "SELECT suggestion_uuid FROM issued_suggestion")
    assert {s for (s,) in suggestions} == {s["uuid"] for s in card["suggestions"]}
    dump = repr(query(database_url, "SELECT * FROM issued_card")) + repr(
        query(database_url, "SELECT * FROM installation_secret")
    )
    assert "patient-ledger-1" not in dump


def test_round_trip_accepted_and_overridden_reach_store_and_report(
    service: LiveService, database_url: str
) -> None:
    first = issue_card(service.base_url, patient_id="patient-rt-1")
    second = issue_card(service.base_url, patient_id="patient-rt-2")
    third = issue_card(service.base_url, patient_id="patient-rt-3")
    response = post_feedback(
        service.base_url,
        [
            accepted(first),
            overridden(second, DECLINED, comment="discussed, will decide next visit"),
        ],
    )
    assert response.status_code == 200 and response.json() == {}
    # the sandbox's shape: reason without display, no comment
    assert post_feedback(service.base_url, [overridden(third, NOT_APPLICABLE)]).status_code == 200

    rows = query(
        database_url,
        "SELECT card_uuid, outcome, reason_system, reason_code, comment FROM feedback ORDER BY card_uuid",
    )
    by_card = {r[0]: r[1:] for r in rows}
    assert by_card == {
        first["uuid"]: ("accepted", None, None, None),
        second["uuid"]: (
            "overridden",
            DECLINED["system"],
            "patient-declined",
            "discussed, will decide next visit",
        ),
        third["uuid"]: ("overridden", NOT_APPLICABLE["system"], "not-applicable", None),
    }
    linked = query(
        database_url,
        "SELECT a.suggestion_uuid FROM accepted_suggestion a JOIN feedback f ON f.id = a.feedback_id WHERE f.card_uuid = :c",
        c=first["uuid"],
    )
    assert [s for (s,) in linked] == [first["suggestions"][0]["uuid"]]

    figures = report(database_url, "--json")
    (rule,) = figures["rules"]
    assert rule == {
        "rule_id": rule_of(first),
        "issued": 3,
        "accepted": 1,
        "overridden": 2,
        "overridden_by_reason": {"not-applicable": 1, "patient-declined": 1},
        "acceptance_rate": round(1 / 3, 4),
    }
    table = report(database_url)
    line = next(li for li in table.splitlines() if li.startswith(rule_of(first)))
    assert line.split()[1:5] == ["3", "1", "2", "33%"]
    assert "not-applicable 1" in line and "patient-declined 1" in line
    assert report(database_url, "--since", "2999-01-01", "--json")["rules"] == []


def test_feedback_is_idempotent(service: LiveService, database_url: str) -> None:
    card = issue_card(service.base_url, patient_id="patient-idem")
    entry = accepted(card)
    for _ in range(3):
        assert post_feedback(service.base_url, [entry, entry]).status_code == 200
    # the same instant written another way is the same outcome
    same_instant = {**entry, "outcomeTimestamp": "2026-11-25T11:00:00+01:00"}
    assert post_feedback(service.base_url, [same_instant]).status_code == 200
    assert count(database_url, "feedback") == 1
    assert count(database_url, "accepted_suggestion") == 1
    # a later outcome for the same card is a new fact
    assert post_feedback(service.base_url, [overridden(card, DECLINED)]).status_code == 200
    assert count(database_url, "feedback") == 2


def _rejected(response: requests.Response, *words: str) -> None:
    assert response.status_code == 400, response.text
    diagnostics = assert_operation_outcome(response.json())
    for word in words:
        assert word in diagnostics, diagnostics


def test_unknown_or_foreign_cards_and_suggestions_are_rejected_and_nothing_is_stored(
    service: LiveService, database_url: str
) -> None:
    good = issue_card(service.base_url, patient_id="patient-rej")
    order_card = issue_card(service.base_url, STOPPING_B12, ORDER_SIGN)
    unknown = {**good, "uuid": "00000000-0000-4000-8000-000000000000"}
    _rejected(
        post_feedback(service.base_url, [accepted(good), overridden(unknown)]),
        "/feedback/1/card",
        "no card",
        "nothing stored",
    )
    _rejected(
        post_feedback(service.base_url, [accepted(good), overridden(order_card)]),
        "/feedback/1/card",
        ORDER_SIGN,
    )
    wrong_suggestion = accepted(good)
    wrong_suggestion["acceptedSuggestions"] = [{"id": "not-a-suggestion-of-this-card"}]
    _rejected(
        post_feedback(service.base_url, [overridden(good), wrong_suggestion]),
        "/feedback/1/acceptedSuggestions/0/id",
    )
    bad_time = {**accepted(good), "outcomeTimestamp": "yesterday"}
    _rejected(post_feedback(service.base_url, [bad_time]), "/feedback/0/outcomeTimestamp")
    not_schema = post_feedback(service.base_url, [{"card": good["uuid"], "outcome": "accepted"}])
    _rejected(not_schema)
    assert count(database_url, "feedback") == 0
    assert count(database_url, "accepted_suggestion") == 0
    # the order card's own service takes it
    assert post_feedback(service.base_url, [overridden(order_card)], ORDER_SIGN).status_code == 200
    assert count(database_url, "feedback") == 1


def test_an_outcome_time_outside_the_utc_years_is_400_and_nothing_is_stored(
    service: LiveService, database_url: str
) -> None:
    """0001-01-01T00:00:00+14:00 is valid RFC 3339 but before year 1 in UTC (it was a
    500: OverflowError); year 1 in UTC itself is stored."""
    card = issue_card(service.base_url, patient_id="patient-year-1")
    before = count(database_url, "feedback")
    for stamp in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"):
        entry = {**accepted(card), "outcomeTimestamp": stamp}
        response = post_feedback(service.base_url, [entry])
        assert response.status_code == 400, response.text
        assert "outcomeTimestamp" in assert_operation_outcome(response.json())
    assert count(database_url, "feedback") == before
    entry = {**accepted(card), "outcomeTimestamp": "0001-01-01T00:00:00Z"}
    assert post_feedback(service.base_url, [entry]).status_code == 200
    assert count(database_url, "feedback") == before + 1
