"""Every fixture scenario, sent over real HTTP to the running service (today frozen at 2026-11-25).

For each `fixtures/<scenario>/`: the status is the expected one, every rule in `fires` speaks with
its indicator, every rule in `silent` stays silent, no rule speaks twice, the response passes the
CDS Hooks response schema, and every suggested resource is valid FHIR R4 (fhir.resources R4B).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
from fhir.resources.R4B import get_fhir_model_class

from tests.support.live import LiveService
from tests.support.schemas import assert_valid_response

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SCENARIOS = sorted(p.parent for p in FIXTURES.glob("*/expected.json"))
RULE_SYSTEM = "https://b12-cds.example.org/rules"


def _load(folder: Path, name: str) -> Any:
    return json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))


def _suggested_resources(cards: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        action["resource"]
        for card in cards
        for suggestion in card.get("suggestions", [])
        for action in suggestion.get("actions", [])
        if "resource" in action
    ]


def test_there_is_a_fires_and_a_silent_scenario_for_every_rule() -> None:
    fires: set[str] = set()
    silent: set[str] = set()
    for folder in SCENARIOS:
        expected = _load(folder, "expected")
        fires |= {f["rule"] for f in expected["fires"]}
        if folder.name.startswith("silent-"):
            silent |= set(expected["silent"])
    assert len(fires) == 11
    assert fires <= silent


@pytest.mark.parametrize("folder", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_scenario(folder: Path, frozen_server: LiveService) -> None:
    request = _load(folder, "request")
    expected = _load(folder, "expected")
    url = f"{frozen_server.base_url}/cds-services/b12-{request['hook']}"
    response = requests.post(url, json=request, timeout=15)
    assert response.status_code == expected["status"], response.text
    body = response.json()
    assert_valid_response(body)
    spoken = [card["source"]["topic"] for card in body["cards"]]
    assert all(topic["system"] == RULE_SYSTEM for topic in spoken)
    codes = [topic["code"] for topic in spoken]
    assert len(codes) == len(set(codes)), f"a rule spoke twice: {codes}"
    indicators = {card["source"]["topic"]["code"]: card["indicator"] for card in body["cards"]}
    wanted = {f["rule"]: f["indicator"] for f in expected["fires"]}
    assert {r: indicators.get(r) for r in wanted} == wanted, expected["description"]
    assert not set(expected["silent"]) & set(indicators), expected["description"]
    for resource in _suggested_resources(body["cards"]):
        model = get_fhir_model_class(resource["resourceType"])
        model.model_validate(resource)


def test_by_default_a_card_repeats_when_the_chart_is_reopened_in_the_same_encounter(
    frozen_server: LiveService,
) -> None:
    """Once-per-encounter suppression is a site opt-in: by default a warning is never hidden."""
    request = _load(FIXTURES / "story-3-fires-injection-overdue", "request")
    request["context"]["encounterId"] = "enc-repeat"
    url = f"{frozen_server.base_url}/cds-services/b12-patient-view"
    for _ in range(2):
        body = requests.post(url, json=request, timeout=15).json()
        assert [c["source"]["topic"]["code"] for c in body["cards"]] == [
            "maintenance-injection-overdue"
        ]
