"""Hook calls over real HTTP: each status code, and the service keeps serving after each."""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.support.hook_calls import (
    call_hook,
    empty_bundle,
    hook_request,
    medication_request,
    post_hook,
)
from tests.support.live import LiveService
from tests.support.schemas import assert_operation_outcome
from tests.support.store_calls import ORDER_SIGN, STOPPING_B12, issue_card


def assert_still_serving(base_url: str) -> None:
    """After any bad request the same server answers a good one."""
    response = call_hook(base_url, hook_request("patient-view"))
    assert response.status_code == 200
    assert response.json() == {"cards": []}


@pytest.mark.parametrize("hook", ["patient-view", "order-select", "order-sign"])
def test_valid_request_with_full_prefetch_gets_200_and_no_cards(base_url: str, hook: str) -> None:
    """A patient with no B12 history and a non-B12 draft order: nothing to say."""
    drafts = [medication_request(text="amoxicillin 500 MG Oral Capsule", rxnorm="308191")]
    response = call_hook(base_url, hook_request(hook, drafts=drafts))
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == {"cards": []}


def test_null_prefetch_values_mean_no_data_not_missing(base_url: str) -> None:
    prefetch: dict[str, Any] = dict.fromkeys(hook_request()["prefetch"])
    response = call_hook(base_url, hook_request(prefetch=prefetch))
    assert response.status_code == 200
    assert response.json() == {"cards": []}


def test_order_select_before_a_drug_is_chosen_gets_200(base_url: str) -> None:
    """The sandbox fires order-select on opening Rx View: no drug, no intent, no prefetch."""
    body = hook_request("order-select", drafts=[medication_request()], with_prefetch=False)
    response = call_hook(base_url, body)
    assert response.status_code == 200
    assert response.json() == {"cards": []}


def test_sandbox_style_draft_orders_are_accepted(base_url: str) -> None:
    """Bundle without type or fullUrl, category as an object, dose without unit."""
    order = medication_request(text="cyanocobalamin 1 MG Oral Tablet", rxnorm="1740293")
    order["category"] = {"coding": [{"code": "outpatient"}]}
    order["dosageInstruction"] = [
        {"doseAndRate": [{"doseQuantity": {"value": 1, "code": "{pill}"}}]}
    ]
    body = hook_request("order-sign", drafts=[order])
    body["extension"] = {"org.example.unknown": True}
    body["fhirServer"] = "http://localhost:8080/fhir"
    response = call_hook(base_url, body)
    assert response.status_code == 200


BAD_REQUESTS: list[tuple[str, bytes, str]] = [
    ("malformed JSON", b'{"hook": "patient-view",', "not valid JSON"),
    ("empty body", b"", "empty"),
    ("JSON array", b"[]", "JSON object"),
    (
        "missing hookInstance",
        json.dumps({"hook": "patient-view", "context": {}}).encode(),
        "hookInstance",
    ),
    (
        "missing context",
        json.dumps({"hook": "patient-view", "hookInstance": "x"}).encode(),
        "context",
    ),
    (
        "patientId as a reference",
        json.dumps(
            {
                "hook": "patient-view",
                "hookInstance": "x",
                "context": {"patientId": "Patient/1", "userId": "Practitioner/1"},
            }
        ).encode(),
        "/context/patientId",
    ),
    (
        "prefetch value not a resource",
        json.dumps({**hook_request(), "prefetch": {"labs": "nope"}}).encode(),
        "/prefetch/labs",
    ),
    (
        "fhirAuthorization without fhirServer",
        json.dumps(
            {**hook_request(), "fhirAuthorization": {"access_token": "t", "token_type": "Bearer"}}
        ).encode(),
        "fhirServer",
    ),
    (
        "hook does not match the service",
        json.dumps(hook_request("order-sign")).encode(),
        "/hook",
    ),
]


@pytest.mark.parametrize(("case", "body", "named"), BAD_REQUESTS, ids=[c[0] for c in BAD_REQUESTS])
def test_malformed_requests_get_400_naming_the_problem(
    base_url: str, case: str, body: bytes, named: str
) -> None:
    response = post_hook(base_url, "b12-patient-view", body)
    assert response.status_code == 400, response.text
    diagnostics = assert_operation_outcome(response.json())
    assert named in diagnostics
    assert "Traceback" not in response.text
    assert_still_serving(base_url)


def test_order_select_without_selections_is_400(base_url: str) -> None:
    body = hook_request("order-select")
    body["context"]["selections"] = []
    response = call_hook(base_url, body)
    assert response.status_code == 400
    assert "/context/selections" in assert_operation_outcome(response.json())
    assert_still_serving(base_url)


def test_unknown_service_is_404(base_url: str) -> None:
    response = post_hook(base_url, "no-such-service", hook_request())
    assert response.status_code == 404
    assert "no-such-service" in assert_operation_outcome(response.json())
    unknown_path = requests.get(f"{base_url}/no/such/path", timeout=10)
    assert unknown_path.status_code == 404
    assert_operation_outcome(unknown_path.json())
    assert_still_serving(base_url)


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/cds-services/b12-patient-view"), ("PUT", "/cds-services"), ("DELETE", "/healthz")],
)
def test_wrong_method_is_405(base_url: str, method: str, path: str) -> None:
    response = requests.request(method, f"{base_url}{path}", timeout=10)
    assert response.status_code == 405
    assert method in assert_operation_outcome(response.json())
    assert response.headers["Allow"]
    assert_still_serving(base_url)


def test_body_over_the_default_limit_is_413_before_it_is_read(base_url: str) -> None:
    """Only the headers are sent: the answer proves the body was never waited for."""
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.putrequest("POST", "/cds-services/b12-patient-view")
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(5_000_001))
        connection.endheaders()
        response = connection.getresponse()
        assert response.status == 413
        diagnostics = assert_operation_outcome(json.loads(response.read()))
        assert "5000000" in diagnostics
    finally:
        connection.close()
    assert_still_serving(base_url)


def test_missing_prefetch_without_fhir_server_is_412_naming_the_keys(base_url: str) -> None:
    body = hook_request()
    del body["prefetch"]["labs"]
    del body["prefetch"]["medadmins"]
    response = call_hook(base_url, body)
    assert response.status_code == 412
    diagnostics = assert_operation_outcome(response.json())
    assert "'labs'" in diagnostics and "'medadmins'" in diagnostics
    assert "'conditions'" not in diagnostics
    assert_still_serving(base_url)


def test_prefetch_error_outcome_counts_as_missing(base_url: str) -> None:
    body = hook_request()
    body["prefetch"]["labs"] = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "timeout"}],
    }
    response = call_hook(base_url, body)
    assert response.status_code == 412
    assert "'labs'" in assert_operation_outcome(response.json())


def test_patient_prefetch_key_is_optional(base_url: str) -> None:
    body = hook_request()
    body["prefetch"].pop("patient", None)
    body["prefetch"]["conditions"] = {**empty_bundle(), "entry": []}
    response = call_hook(base_url, body)
    assert response.status_code == 200


def test_no_prefetch_at_all_is_412(base_url: str) -> None:
    response = call_hook(base_url, hook_request(with_prefetch=False))
    assert response.status_code == 412
    assert_still_serving(base_url)


def test_feedback_is_accepted_and_validated(base_url: str) -> None:
    card = issue_card(base_url, STOPPING_B12, ORDER_SIGN)  # feedback must name a real card
    url = f"{base_url}/cds-services/{ORDER_SIGN}/feedback"
    sandbox_feedback = {
        "feedback": [
            {
                "card": card["uuid"],
                "outcome": "overridden",
                "outcomeTimestamp": "2026-11-25T10:05:31Z",
                "overrideReason": {"reason": {"code": "not-applicable", "system": "urn:x"}},
            }
        ]
    }
    ok = requests.post(url, json=sandbox_feedback, timeout=10)
    assert ok.status_code == 200
    assert ok.json() == {}
    made_up = {"feedback": [{**sandbox_feedback["feedback"][0], "card": "0f0c6b0e-made-up"}]}
    rejected = requests.post(url, json=made_up, timeout=10)
    assert rejected.status_code == 400
    assert "no card" in assert_operation_outcome(rejected.json())
    accepted_without_suggestions = {
        "feedback": [{"card": "c", "outcome": "accepted", "outcomeTimestamp": "2026-11-25"}]
    }
    bad = requests.post(url, json=accepted_without_suggestions, timeout=10)
    assert bad.status_code == 400
    assert "acceptedSuggestions" in assert_operation_outcome(bad.json())
    unknown = requests.post(
        f"{base_url}/cds-services/nope/feedback", json=sandbox_feedback, timeout=10
    )
    assert unknown.status_code == 404
    assert_still_serving(base_url)


def test_logs_are_json_lines_without_patient_data(live_server: LiveService) -> None:
    sentinel_patient = "sentinel-patient-73519"
    body = hook_request(patient_id=sentinel_patient)
    body["fhirAuthorization"] = {"access_token": "sentinel-token-88412", "token_type": "Bearer"}
    body["fhirServer"] = "https://ehr.example.org/fhir"
    assert call_hook(live_server.base_url, body).status_code == 200
    bad = hook_request(patient_id=sentinel_patient)
    bad["context"]["userId"] = "not a reference"
    assert call_hook(live_server.base_url, bad).status_code == 400
    lines = [json.loads(line) for line in live_server.log_text().splitlines() if line.strip()]
    text = live_server.log_text()
    assert sentinel_patient not in text
    assert "sentinel-token-88412" not in text
    calls = [line for line in lines if line.get("hook_instance") == body["hookInstance"]]
    assert len(calls) == 1
    assert calls[0]["status"] == 200
    assert calls[0]["service_id"] == "b12-patient-view"
    assert calls[0]["card_count"] == 0
    assert {"request_id", "duration_ms"} <= calls[0].keys()
