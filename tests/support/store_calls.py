"""Helpers for the store and metrics suites: issue real cards, send feedback, read the DB.

Cards come from the synthetic fixtures in `fixtures/`, rewritten to any patient id, and
are answered by the real server with today frozen at 2026-11-25 (fixture dates assume it).
"""

from __future__ import annotations

import json
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import create_engine, text

from cds_service.policy import DEFAULT_POLICY_PATH
from tests.support.live import REPO, LiveService, start_service

FIXTURES = REPO / "fixtures"
PATIENT_VIEW = "b12-patient-view"
ORDER_SIGN = "b12-order-sign"
# patient-view: maintenance-not-started (warning) with one suggestion
LOADING_DONE = "story-1-fires-loading-done"
# order-sign: b12-therapy-stopped (critical)
STOPPING_B12 = "fires-order-sign-stopping-b12-in-pa"
NOT_APPLICABLE = {
    "system": "https://b12-cds.example.org/override-reasons",
    "code": "not-applicable",
}
DECLINED = {"system": "https://b12-cds.example.org/override-reasons", "code": "patient-declined"}
TIMEOUT = 20


def fatigue_policy_file() -> Path:
    """The default policy with every alert-fatigue control on (once per encounter is opt-in)."""
    data = json.loads(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    data["suppression"]["once_per_encounter"] = True
    path = Path(tempfile.mkdtemp(prefix="b12cds-policy-")) / "fatigue.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def start_store_service(database_url: str, workers: int = 3) -> LiveService:
    return start_service(
        [
            sys.executable,
            "-m",
            "tests.support.frozen_serve",
            "--port",
            "0",
            "--workers",
            str(workers),
        ],
        {"B12CDS_DATABASE_URL": database_url, "B12CDS_POLICY": str(fatigue_policy_file())},
        "store",
    )


def fixture_request(
    name: str, patient_id: str | None = None, encounter_id: str | None = None
) -> dict[str, Any]:
    """The fixture's request for `patient_id` (every reference rewritten), new hookInstance."""
    raw = (FIXTURES / name / "request.json").read_text()
    body: dict[str, Any] = json.loads(raw)
    if patient_id is not None:
        body = json.loads(raw.replace(body["context"]["patientId"], patient_id))
    body["hookInstance"] = str(uuid.uuid4())
    if encounter_id is not None:
        body["context"]["encounterId"] = encounter_id
    return body


def call(base_url: str, service_id: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    response = requests.post(f"{base_url}/cds-services/{service_id}", json=body, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    cards: list[dict[str, Any]] = response.json()["cards"]
    return cards


def issue_card(
    base_url: str, name: str = LOADING_DONE, service_id: str = PATIENT_VIEW, **kw: Any
) -> dict[str, Any]:
    """Exactly one card from the fixture (the tests rely on it)."""
    cards = call(base_url, service_id, fixture_request(name, **kw))
    assert len(cards) == 1, cards
    return cards[0]


def rule_of(card: dict[str, Any]) -> str:
    rule: str = card["source"]["topic"]["code"]
    return rule


def accepted(card: dict[str, Any], when: str = "2026-11-25T10:00:00Z") -> dict[str, Any]:
    return {
        "card": card["uuid"],
        "outcome": "accepted",
        "acceptedSuggestions": [{"id": s["uuid"]} for s in card["suggestions"]],
        "outcomeTimestamp": when,
    }


def overridden(
    card: dict[str, Any],
    reason: dict[str, str] | None = None,
    when: str = "2026-11-25T10:05:00Z",
    comment: str | None = None,
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "card": card["uuid"],
        "outcome": "overridden",
        "outcomeTimestamp": when,
    }
    if reason is not None or comment is not None:
        entry["overrideReason"] = {}
        if reason is not None:
            entry["overrideReason"]["reason"] = reason
        if comment is not None:
            entry["overrideReason"]["userComment"] = comment
    return entry


def post_feedback(
    base_url: str,
    entries: list[dict[str, Any]],
    service_id: str = PATIENT_VIEW,
    session: requests.Session | None = None,
) -> requests.Response:
    poster = session or requests
    return poster.post(
        f"{base_url}/cds-services/{service_id}/feedback",
        json={"feedback": entries},
        timeout=TIMEOUT,
    )


def query(database_url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """Read the database directly (not through the service under test)."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql), params)]
    finally:
        engine.dispose()


def count(database_url: str, table: str) -> int:
    rows = query(database_url, f"SELECT count(*) FROM {table}")  # noqa: S608  # fixed names
    return int(rows[0][0])


def report(database_url: str, *args: str) -> Any:
    import subprocess

    from tests.support.live import b12_cds, service_env

    result = subprocess.run(
        [b12_cds(), "report", *args],
        env=service_env({"B12CDS_DATABASE_URL": database_url}),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(REPO),
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if "--json" in args else result.stdout
