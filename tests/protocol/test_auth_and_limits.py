"""A server in the default JWT mode with a small body limit and one allowed browser origin."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests

from tests.support.hook_calls import hook_request, post_hook
from tests.support.live import LiveService, start_b12_cds
from tests.support.schemas import assert_operation_outcome

SANDBOX = "https://sandbox.cds-hooks.org"
LIMIT = 4096


@pytest.fixture(scope="module")
def jwt_server() -> Iterator[LiveService]:
    service = start_b12_cds(
        env={"B12CDS_MAX_BODY_BYTES": str(LIMIT), "B12CDS_CORS_ORIGINS": SANDBOX}
    )
    yield service
    assert service.stop() == 0, "SIGTERM must stop the server gracefully"


def test_hook_call_without_token_is_401_saying_how_to_configure(jwt_server: LiveService) -> None:
    response = post_hook(jwt_server.base_url, "b12-patient-view", hook_request())
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    diagnostics = assert_operation_outcome(response.json())
    assert "B12CDS_TRUSTED_CLIENTS" in diagnostics and "--no-auth" in diagnostics


def test_feedback_without_token_is_401(jwt_server: LiveService) -> None:
    response = requests.post(
        f"{jwt_server.base_url}/cds-services/b12-patient-view/feedback",
        json={"feedback": [{"card": "c", "outcome": "overridden", "outcomeTimestamp": "t"}]},
        timeout=10,
    )
    assert response.status_code == 401


def test_discovery_and_health_are_open_but_a_bad_token_on_discovery_is_refused(
    jwt_server: LiveService,
) -> None:
    """Discovery is public metadata; the contract gates hook and feedback calls with the JWT."""
    assert requests.get(f"{jwt_server.base_url}/cds-services", timeout=10).status_code == 200
    assert requests.get(f"{jwt_server.base_url}/healthz", timeout=10).status_code == 200
    bad = {"Authorization": "Bearer not.a.jwt"}
    assert (
        requests.get(f"{jwt_server.base_url}/cds-services", headers=bad, timeout=10).status_code
        == 401
    )


def test_body_over_configured_limit_is_413(jwt_server: LiveService) -> None:
    body = hook_request()
    body["context"]["padding"] = "x" * (LIMIT + 10)  # unknown context fields are allowed
    response = post_hook(jwt_server.base_url, "b12-patient-view", json.dumps(body))
    assert response.status_code == 413
    assert str(LIMIT) in assert_operation_outcome(response.json())
    # just under the limit is read, and then refused for lack of a token
    small = post_hook(jwt_server.base_url, "b12-patient-view", hook_request())
    assert small.status_code == 401


def test_cors_allows_only_the_configured_origin(jwt_server: LiveService) -> None:
    def preflight(origin: str) -> requests.Response:
        return requests.options(
            f"{jwt_server.base_url}/cds-services",
            headers={"Origin": origin, "Access-Control-Request-Method": "GET"},
            timeout=10,
        )

    allowed = preflight(SANDBOX)
    assert allowed.status_code == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == SANDBOX
    assert "Authorization" in allowed.headers["Access-Control-Allow-Headers"]
    denied = preflight("https://evil.example.com")
    assert "Access-Control-Allow-Origin" not in denied.headers
    call = requests.post(
        f"{jwt_server.base_url}/cds-services/b12-patient-view",
        json=hook_request(),
        headers={"Origin": SANDBOX},
        timeout=10,
    )
    assert call.status_code == 401  # no token; the browser may still read why
    assert call.headers["Access-Control-Allow-Origin"] == SANDBOX
