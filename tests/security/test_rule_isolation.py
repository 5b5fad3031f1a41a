"""A rule that raises loses only its own card: the other rules still speak, the call is a
200, and the failure is logged with the rule id (never the exception message) and counted."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import requests

from cds_service.policy import load_policy
from cds_service.record.model import PatientRecord
from cds_service.rules import run_rules
from cds_service.rules.base import Finding, RuleInput
from cds_service.rules.guidelines import LOCAL_PROTOCOL
from tests.support.live import REPO, LiveService, start_service
from tests.support.schemas import assert_valid_response

EXPLODING = "neurological-review"
SURVIVOR = "homocysteine-above-target"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((REPO / "fixtures" / name / "request.json").read_text(encoding="utf-8"))


def two_card_request() -> dict[str, Any]:
    """Homocysteine at target plus new subacute combined degeneration: two rules speak."""
    body = fixture("fires-homocysteine-at-target-10")
    other = fixture("fires-neuro-critical-scd")
    same_patient = json.dumps(other["prefetch"]).replace(
        other["context"]["patientId"], body["context"]["patientId"]
    )
    for key, value in json.loads(same_patient).items():
        mine = body["prefetch"].get(key)
        if (
            isinstance(value, dict)
            and isinstance(mine, dict)
            and mine.get("resourceType") == "Bundle"
        ):
            mine.setdefault("entry", []).extend(value.get("entry", []))
    body["hookInstance"] = str(uuid.uuid4())
    return body


def rule_ids(response: requests.Response) -> list[str]:
    assert response.status_code == 200, response.text
    assert_valid_response(response.json())
    return sorted(card["source"]["topic"]["code"] for card in response.json()["cards"])


@pytest.fixture(scope="module")
def exploding_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    db = Path(tmp_path_factory.mktemp("explode")) / "b12cds.sqlite3"
    service = start_service(
        [sys.executable, "-m", "tests.security.exploding_serve", "--explode", EXPLODING],
        {"B12CDS_DATABASE_URL": f"sqlite:///{db}"},
        "exploding",
    )
    yield service
    service.stop()


def test_both_rules_speak_on_the_healthy_server(frozen_server: LiveService) -> None:
    url = f"{frozen_server.base_url}/cds-services/b12-patient-view"
    assert rule_ids(requests.post(url, json=two_card_request(), timeout=10)) == sorted(
        [EXPLODING, SURVIVOR]
    )


def test_a_raising_rule_loses_only_its_own_card_over_http(exploding_server: LiveService) -> None:
    base = exploding_server.base_url
    response = requests.post(
        f"{base}/cds-services/b12-patient-view", json=two_card_request(), timeout=10
    )
    assert rule_ids(response) == [SURVIVOR]
    failures = [
        json.loads(line)
        for line in exploding_server.log_text().splitlines()
        if '"event":"rule_failed"' in line
    ]
    assert failures and failures[-1]["rule_id"] == EXPLODING
    assert failures[-1]["error_type"] == "ZeroDivisionError"
    assert "never expected" not in exploding_server.log_text()  # the message may quote data
    metrics = requests.get(f"{base}/metrics", timeout=10).text
    counted = [
        line
        for line in metrics.splitlines()
        if line.startswith("b12cds_rule_failures") and f'rule="{EXPLODING}"' in line
    ]
    assert counted and float(counted[0].rsplit(" ", 1)[1]) >= 1, metrics


def _fake_rule(rule_id: str, behaviour: Any) -> ModuleType:
    module = ModuleType(f"fake_{rule_id}")
    module.RULE_ID = rule_id  # type: ignore[attr-defined]
    module.HOOKS = ("patient-view",)  # type: ignore[attr-defined]
    module.evaluate = behaviour  # type: ignore[attr-defined]
    return module


def test_run_rules_keeps_every_other_finding_and_reports_the_failure() -> None:
    policy = load_policy(None)
    finding = Finding(SURVIVOR, "warning", "s", LOCAL_PROTOCOL)

    def boom(inp: RuleInput) -> Finding | None:
        raise KeyError("Patient/secret-123")

    rules = (
        _fake_rule(EXPLODING, boom),
        _fake_rule(SURVIVOR, lambda inp: finding),
        _fake_rule("metformin-b12-check", lambda inp: None),
    )
    record = PatientRecord(patient_id="p")
    run = run_rules(RuleInput(record, policy, date(2026, 11, 25), "patient-view", None), rules)
    assert [f.rule_id for f in run.findings] == [SURVIVOR]
    assert [(f.rule_id, f.error) for f in run.failures] == [(EXPLODING, "KeyError")]
