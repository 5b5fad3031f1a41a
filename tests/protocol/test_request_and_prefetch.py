"""Parsing a hook call, and reading prefetch values the way CDS Hooks 2.0 defines them."""

from __future__ import annotations

from typing import Any

import pytest

from cds_service.data import gather
from cds_service.protocol.catalog import load_catalog
from cds_service.protocol.errors import DataUnavailable
from cds_service.protocol.request import HookRequest, hook_request_from
from tests.support.hook_calls import hook_request

SECRET = "sentinel-access-token-0042"


def parse(body: dict[str, Any]) -> HookRequest:
    catalog = load_catalog()
    service = catalog.service_for_hook(body["hook"])
    assert service is not None
    return hook_request_from(body, service, catalog)


def test_request_fields_are_read_and_the_token_stays_out_of_repr() -> None:
    body = hook_request("order-select")
    body["fhirServer"] = "https://ehr.example.org/fhir/"
    body["fhirAuthorization"] = {
        "access_token": SECRET,
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "user/Observation.read",
        "subject": "b12-cds",
    }
    body["context"]["encounterId"] = "enc-9"
    request = parse(body)
    assert request.hook == "order-select"
    assert request.hook_instance == body["hookInstance"]
    assert request.patient_id == "pat-1"
    assert request.user_id == "Practitioner/COREPRACTITIONER1"
    assert request.encounter_id == "enc-9"
    assert request.fhir_server == "https://ehr.example.org/fhir"
    assert request.selections == ("MedicationRequest/request-123",)
    assert request.draft_orders is not None
    assert request.draft_orders["resourceType"] == "Bundle"
    assert request.fhir_authorization is not None
    assert request.fhir_authorization.access_token == SECRET
    assert SECRET not in repr(request)
    assert SECRET not in str(request)


def test_absent_prefetch_is_none_not_empty() -> None:
    assert parse(hook_request(with_prefetch=False)).prefetch is None


def _bundle(*resources: dict[str, Any], next_link: bool = False) -> dict[str, Any]:
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": r} for r in resources],
    }
    if next_link:
        bundle["link"] = [{"relation": "next", "url": "https://ehr.example.org/fhir?page=2"}]
    return bundle


def test_gather_flattens_bundles_single_resources_and_nulls() -> None:
    body = hook_request()
    condition = {"resourceType": "Condition", "id": "c1"}
    warning = {"resourceType": "OperationOutcome", "issue": []}
    lab = {"resourceType": "Observation", "id": "o1"}
    body["prefetch"].update(
        {
            "patient": {"resourceType": "Patient", "id": "pat-1"},
            "conditions": _bundle(condition, warning),
            "labs": _bundle(lab, next_link=True),
            "medadmins": None,
        }
    )
    service = load_catalog().service_for_hook("patient-view")
    assert service is not None
    raw = gather(parse(body), service)
    ids = sorted(str(r.get("id")) for r in raw.resources)
    assert ids == ["c1", "o1", "pat-1"]
    assert "medadmins" in raw.keys_present and "patient" in raw.keys_present
    assert len(raw.notes) == 1 and "'labs'" in raw.notes[0]


@pytest.mark.parametrize("missing", ["labs", "conditions"])
def test_gather_without_fhir_server_is_412_naming_the_key(missing: str) -> None:
    body = hook_request()
    body["prefetch"][missing] = {"resourceType": "OperationOutcome", "issue": []}
    service = load_catalog().service_for_hook("patient-view")
    assert service is not None
    with pytest.raises(DataUnavailable, match=f"'{missing}'"):
        gather(parse(body), service)
