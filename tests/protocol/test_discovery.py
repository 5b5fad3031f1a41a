"""Discovery: what an EHR sees first, exactly as written in hooks/services."""

from __future__ import annotations

import json

import requests

from cds_service.protocol.catalog import hooks_dir
from tests.support.live import LiveService
from tests.support.schemas import assert_valid_discovery


def _files() -> list[dict[str, object]]:
    paths = sorted((hooks_dir() / "services").glob("*.json"))
    return [json.loads(p.read_text(encoding="utf-8")) for p in paths]


def test_discovery_lists_one_service_per_hook(base_url: str) -> None:
    response = requests.get(f"{base_url}/cds-services", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert_valid_discovery(body)
    assert sorted(s["hook"] for s in body["services"]) == [
        "order-select",
        "order-sign",
        "patient-view",
    ]
    for service in body["services"]:
        assert {"id", "hook", "title", "description", "prefetch"} <= service.keys()


def test_discovery_serves_the_service_files_verbatim_in_order(base_url: str) -> None:
    """Prefetch key order is kept (CDS Hooks 3.0 lets later templates use earlier ones)."""
    body = requests.get(f"{base_url}/cds-services", timeout=10).json()
    assert body["services"] == _files()
    for served, written in zip(body["services"], _files(), strict=True):
        assert list(served["prefetch"]) == list(written["prefetch"])  # type: ignore[call-overload]
    patient_view = next(s for s in body["services"] if s["hook"] == "patient-view")
    keys = list(patient_view["prefetch"])
    assert keys != sorted(keys), "the fixture must be able to detect sorted keys"


def test_every_response_carries_security_headers(base_url: str) -> None:
    for response in (
        requests.get(f"{base_url}/cds-services", timeout=10),
        requests.post(f"{base_url}/cds-services/nope", data=b"{}", timeout=10),
    ):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Request-Id"]


def test_health_and_metrics(base_url: str) -> None:
    health = requests.get(f"{base_url}/healthz", timeout=10)
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    metrics = requests.get(f"{base_url}/metrics", timeout=10)
    assert metrics.status_code == 200
    assert metrics.headers["Content-Type"].startswith("text/plain")
    assert "# TYPE" in metrics.text


def test_sandbox_preflight_is_answered_without_auth(base_url: str) -> None:
    """With --no-auth any browser origin may call (the sandbox uses a random loopback one)."""
    response = requests.options(
        f"{base_url}/cds-services/b12-patient-view",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
        timeout=10,
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    allowed = response.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed
    assert "POST" in response.headers["Access-Control-Allow-Methods"]


def test_frozen_server_serves_the_same_catalog(frozen_server: LiveService, base_url: str) -> None:
    frozen = requests.get(f"{frozen_server.base_url}/cds-services", timeout=10).json()
    assert frozen == requests.get(f"{base_url}/cds-services", timeout=10).json()
