"""A true server bug: JSON 500 without a stack trace, logged with the request id only."""

from __future__ import annotations

import json

import pytest

from cds_service import create_app
from cds_service.edge.evaluation import Evaluator
from tests.support.hook_calls import hook_request


def test_unexpected_exception_is_json_500_without_details(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    def explode(self: Evaluator, *args: object) -> None:
        raise RuntimeError("secret-detail-5521")

    app = create_app({"auth": "none"})
    monkeypatch.setattr(Evaluator, "evaluate", explode)
    response = app.test_client().post("/cds-services/b12-patient-view", json=hook_request())
    assert response.status_code == 500
    body = response.get_json()
    assert body["resourceType"] == "OperationOutcome"
    request_id = response.headers["X-Request-Id"]
    assert request_id in body["issue"][0]["diagnostics"]
    assert "secret-detail-5521" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
    logged = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line]
    error = next(line for line in logged if line["event"] == "unhandled_exception")
    assert error["request_id"] == request_id
    assert error["error_type"] == "RuntimeError"
    assert "secret-detail-5521" not in json.dumps(logged)


def test_response_validation_setting_catches_an_invalid_response(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """B12CDS_VALIDATE_RESPONSES turns a malformed card into a 500, not a bad answer."""
    monkeypatch.setattr(
        "cds_service.edge.evaluation.render_cards",
        lambda findings, ctx: [{"summary": "", "indicator": "loud"}],
    )
    app = create_app({"auth": "none", "validate_responses": True})
    response = app.test_client().post("/cds-services/b12-patient-view", json=hook_request())
    assert response.status_code == 500
    assert response.get_json()["resourceType"] == "OperationOutcome"
