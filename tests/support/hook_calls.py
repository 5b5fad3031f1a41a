"""Build CDS Hooks requests and call a live service; every 200 hook answer is schema-checked."""

from __future__ import annotations

import uuid
from typing import Any

import requests

from cds_service.protocol.catalog import load_catalog
from tests.support.schemas import assert_valid_response

SERVICE_FOR_HOOK = {s.hook: s.id for s in load_catalog().services}
TIMEOUT = 10
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def empty_bundle() -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "total": 0}


def full_prefetch(hook: str) -> dict[str, Any]:
    """Every prefetch key of the hook's service, answered with "no data"."""
    service = load_catalog().service(SERVICE_FOR_HOOK[hook])
    assert service is not None
    return {key: None if key == "patient" else empty_bundle() for key in service.prefetch}


def medication_request(
    rid: str = "request-123", text: str | None = None, rxnorm: str | None = None
) -> dict[str, Any]:
    """A draft MedicationRequest as the CDS Hooks sandbox sends it (no drug until one is picked)."""
    resource: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": "draft",
        "subject": {"reference": "Patient/pat-1"},
        "authoredOn": "2026-11-25",
    }
    if text is not None:
        concept: dict[str, Any] = {"text": text}
        if rxnorm:
            concept["coding"] = [{"system": RXNORM, "code": rxnorm, "display": text}]
        resource["intent"] = "order"
        resource["medicationCodeableConcept"] = concept
    return resource


def hook_request(
    hook: str = "patient-view",
    *,
    patient_id: str = "pat-1",
    prefetch: dict[str, Any] | None = None,
    drafts: list[dict[str, Any]] | None = None,
    with_prefetch: bool = True,
) -> dict[str, Any]:
    """A valid CDS Hooks 2.0 request for `hook`, with every prefetch key present by default."""
    context: dict[str, Any] = {"userId": "Practitioner/COREPRACTITIONER1", "patientId": patient_id}
    if hook in ("order-select", "order-sign"):
        orders = drafts if drafts is not None else [medication_request()]
        context["draftOrders"] = {
            "resourceType": "Bundle",
            "entry": [{"resource": order} for order in orders],
        }
        if hook == "order-select":
            context["selections"] = [f"MedicationRequest/{orders[0]['id']}"]
    body: dict[str, Any] = {"hook": hook, "hookInstance": str(uuid.uuid4()), "context": context}
    if with_prefetch:
        body["prefetch"] = prefetch if prefetch is not None else full_prefetch(hook)
    return body


def post_hook(base_url: str, service_id: str, body: Any, **kwargs: Any) -> requests.Response:
    """POST a hook call; a 200 answer must validate against the response schema."""
    if isinstance(body, (bytes, str)):
        response = requests.post(
            f"{base_url}/cds-services/{service_id}",
            data=body,
            headers={"Content-Type": "application/json"},
            timeout=TIMEOUT,
            **kwargs,
        )
    else:
        response = requests.post(
            f"{base_url}/cds-services/{service_id}", json=body, timeout=TIMEOUT, **kwargs
        )
    if response.status_code == 200:
        assert_valid_response(response.json())
    return response


def call_hook(base_url: str, body: dict[str, Any], **kwargs: Any) -> requests.Response:
    """POST `body` to the service that answers its hook."""
    return post_hook(base_url, SERVICE_FOR_HOOK[body["hook"]], body, **kwargs)
