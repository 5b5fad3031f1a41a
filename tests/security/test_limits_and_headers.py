"""Request limits (nesting depth, array length, resource count, worst-case time), security
headers on every answer, and CORS for browser clients, against real servers."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.security.conftest import JwtWorld
from tests.security.jwt_kit import claims, sign
from tests.support.hook_calls import hook_request
from tests.support.live import REPO, LiveService, start_b12_cds, start_service
from tests.support.schemas import assert_operation_outcome

HOOK = "/cds-services/b12-patient-view"
FIXTURES = REPO / "fixtures"
ORIGIN = "http://localhost:3000"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    db = Path(tmp_path_factory.mktemp("limits")) / "b12cds.sqlite3"
    service = start_b12_cds("--no-auth", env={"B12CDS_DATABASE_URL": f"sqlite:///{db}"})
    yield service
    service.stop()


def post(service: LiveService, body: Any, path: str = HOOK) -> requests.Response:
    return requests.post(
        service.base_url + path,
        data=json.dumps(body),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )


def nested(levels: int) -> Any:
    value: Any = "leaf"
    for _ in range(levels):
        value = [value]
    return value


def test_nesting_beyond_64_levels_is_400(open_server: LiveService) -> None:
    body = hook_request()
    body["context"]["extension"] = nested(70)
    response = post(open_server, body)
    assert response.status_code == 400
    assert "nests deeper than 64" in assert_operation_outcome(response.json())
    body["context"]["extension"] = nested(50)  # unknown context fields are fine when shallow
    assert post(open_server, body).status_code == 200


def test_an_array_over_10000_items_is_400(open_server: LiveService) -> None:
    body = hook_request()
    body["context"]["extension"] = [0] * 10_001
    response = post(open_server, body)
    assert response.status_code == 400
    assert "more than 10000 items" in assert_operation_outcome(response.json())
    feedback = {"feedback": [{"card": "c"}] * 10_001}
    refused = post(open_server, feedback, HOOK + "/feedback")
    assert refused.status_code == 400
    assert "more than 10000 items" in assert_operation_outcome(refused.json())


def test_more_than_100000_resources_is_400(open_server: LiveService) -> None:
    body = hook_request()
    body["context"]["extension"] = [[{"resourceType": "Basic"}] * 10_000] * 11
    response = post(open_server, body)
    assert response.status_code == 400
    assert "more than 100000 FHIR resources" in assert_operation_outcome(response.json())


def test_an_oversized_prefetch_bundle_is_400(open_server: LiveService) -> None:
    body = hook_request()
    body["prefetch"]["labs"] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": {"resourceType": "Basic"}}] * 10_001,
    }
    response = post(open_server, body)
    assert response.status_code == 400
    assert "more than 10000 items" in assert_operation_outcome(response.json())


@pytest.fixture(scope="module")
def frozen_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    """Today frozen at the fixtures' 2026-11-25, so their cards fire."""
    db = Path(tmp_path_factory.mktemp("limits-frozen")) / "b12cds.sqlite3"
    argv = [sys.executable, "-m", "tests.support.frozen_serve", "--port", "0", "--workers", "1"]
    service = start_service(argv, {"B12CDS_DATABASE_URL": f"sqlite:///{db}"}, "limits-frozen")
    yield service
    service.stop()


def _with_deep_extension(resource: dict[str, Any], levels: int) -> None:
    """Valid FHIR: an extension of an extension of ... (two JSON levels each)."""
    deep: dict[str, Any] = {"url": "https://example.org/deep", "valueString": "leaf"}
    for _ in range(levels // 2):
        deep = {"url": "https://example.org/deep", "extension": [deep]}
    resource["extension"] = [deep]


def _update_actions(response: requests.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text[:300]
    return [
        action
        for card in response.json()["cards"]
        for suggestion in card.get("suggestions", ())
        for action in suggestion.get("actions", ())
        if action["type"] == "update"
    ]


@pytest.mark.parametrize("levels", [70, 300])
def test_deep_nesting_inside_prefetch_is_read_past_and_never_echoed(
    frozen_server: LiveService, levels: int
) -> None:
    """Prefetch is not walked whole: a deep resource costs nothing unless it is echoed.

    symptoms-recurring offers to update the patient's maintenance order; when that order
    nests deeper than the limits the card stays, without the update (echoing it would
    break the response), and deep nesting in other resources changes nothing.
    """
    body = json.loads((FIXTURES / "fires-symptoms-phq9-crosses-10" / "request.json").read_text())
    assert len(_update_actions(post(frozen_server, body))) == 2  # the fixture as it is
    for entry in body["prefetch"]["labs"]["entry"]:
        _with_deep_extension(entry["resource"], levels)
    assert len(_update_actions(post(frozen_server, body))) == 2
    (order,) = [e["resource"] for e in body["prefetch"]["medrequests"]["entry"]]
    _with_deep_extension(order, levels)
    response = post(frozen_server, body)
    assert _update_actions(response) == []
    assert "symptoms-recurring" in {c["source"]["topic"]["code"] for c in response.json()["cards"]}


def test_the_largest_legal_request_is_answered_quickly(open_server: LiveService) -> None:
    """Near the body limit: 9,999 Observations in one prefetch Bundle, read and judged."""
    body = hook_request()
    body["prefetch"]["labs"] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [
            {
                "resource": {
                    "resourceType": "Observation",
                    "id": f"o{i}",
                    "status": "final",
                    "code": {"coding": [{"system": "http://loinc.org", "code": "13964-2"}]},
                    "subject": {"reference": "Patient/pat-1"},
                    "effectiveDateTime": f"20{10 + i % 16}-0{1 + i % 9}-1{i % 10}",
                    "valueQuantity": {"value": 5 + i % 20, "unit": "umol/L"},
                }
            }
            for i in range(9_999)
        ],
    }
    assert len(json.dumps(body)) < 5_000_000
    started = time.perf_counter()
    response = post(open_server, body)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text[:300]
    assert elapsed < 10, elapsed


def test_every_answer_carries_the_security_headers(open_server: LiveService) -> None:
    base = open_server.base_url
    answers = {
        "discovery": requests.get(f"{base}/cds-services", timeout=10),
        "hook 200": post(open_server, hook_request()),
        "hook 400": post(open_server, {"hook": 1}),
        "404": requests.get(f"{base}/nope", timeout=10),
        "405": requests.delete(f"{base}/cds-services", timeout=10),
        "412": post(open_server, hook_request(with_prefetch=False)),
        "413": requests.post(f"{base}{HOOK}", data=b"x" * 5_000_001, timeout=30),
        "preflight": requests.options(
            f"{base}{HOOK}",
            headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"},
            timeout=10,
        ),
        "healthz": requests.get(f"{base}/healthz", timeout=10),
        "metrics": requests.get(f"{base}/metrics", timeout=10),
    }
    for name, response in answers.items():
        for header, value in SECURITY_HEADERS.items():
            assert response.headers.get(header) == value, (name, header, response.headers)
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"], name


def preflight(url: str, origin: str, method: str = "POST") -> requests.Response:
    return requests.options(
        url,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization,content-type",
        },
        timeout=10,
    )


def test_cors_in_jwt_mode_allows_only_listed_origins_without_a_token(jwt_world: JwtWorld) -> None:
    for path in ("/cds-services", HOOK, HOOK + "/feedback"):
        allowed = preflight(jwt_world.url(path), ORIGIN)
        assert allowed.status_code == 204, path  # answered without a JWT
        assert allowed.headers["Access-Control-Allow-Origin"] == ORIGIN
        assert {"GET", "POST", "OPTIONS"} <= {
            m.strip() for m in allowed.headers["Access-Control-Allow-Methods"].split(",")
        }
        assert {"authorization", "content-type"} <= {
            h.strip().lower() for h in allowed.headers["Access-Control-Allow-Headers"].split(",")
        }
        assert "Access-Control-Allow-Credentials" not in allowed.headers
        denied = preflight(jwt_world.url(path), "https://evil.example.org")
        assert "Access-Control-Allow-Origin" not in denied.headers
        assert "Access-Control-Allow-Methods" not in denied.headers
    token = sign(jwt_world.key, claims(jwt_world.url("/cds-services")))
    call = requests.get(
        jwt_world.url("/cds-services"),
        headers={"Origin": ORIGIN, "Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert call.status_code == 200
    assert call.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Origin" in call.headers["Vary"]


def test_cors_star_only_without_auth_and_never_with_credentials(open_server: LiveService) -> None:
    response = preflight(open_server.base_url + HOOK, "http://127.0.0.1:5173")
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response.headers


def test_cors_star_with_jwt_auth_stops_start_up() -> None:
    from tests.support.live import ServiceStartError

    with pytest.raises(ServiceStartError, match="B12CDS_CORS_ORIGINS"):
        start_b12_cds(env={"B12CDS_CORS_ORIGINS": "*"})
