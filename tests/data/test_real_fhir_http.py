"""The fallback against the real test FHIR server, through the real service over HTTP.

The token reaches the server (and without it the server's 401 becomes a 412), paging beyond
the server's 20-entry pages is followed, the page cap turns into a caveat in the card, and
Medications come through `_include` or as contained resources.
"""

from __future__ import annotations

import copy
from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qs

from tests.data.scenarios import FIXTURES, Scenario, check_expected, rule_indicators, transaction
from tests.support.fhir_server import TEST_TOKEN, FhirServer
from tests.support.hook_calls import call_hook, hook_request
from tests.support.live import LiveService
from tests.support.schemas import assert_operation_outcome
from tests.support.synthetic_fhir import PATIENT_A, stable_id

OVERDUE = Scenario.load(FIXTURES / "fires-injection-overdue-106-days")
ORDER_IN_PLACE = Scenario.load(FIXTURES / "silent-maintenance-not-started-order-in-place")
EXTRA_INJECTIONS = 320  # 4 pages of the template's _count=100 with the scenario's own 6


def authorization(token: str) -> dict[str, Any]:
    return {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "patient/*.read",
        "subject": "b12-cds",
    }


def offsets(server: FhirServer, resource_type: str) -> list[int]:
    found = []
    for entry in server.request_log():
        if entry["path"].strip("/") == resource_type:
            found.append(int(parse_qs(entry["query"].lstrip("?")).get("_offset", ["0"])[0]))
    return sorted(found)


def test_the_token_reaches_the_fhir_server(
    fhir_server_with_token: FhirServer, frozen_server: LiveService
) -> None:
    body = hook_request(patient_id=PATIENT_A, with_prefetch=False)
    body["fhirServer"] = fhir_server_with_token.base_url
    body["fhirAuthorization"] = authorization(TEST_TOKEN)
    fhir_server_with_token.clear_request_log()
    response = call_hook(frozen_server.base_url, body)
    assert response.status_code == 200, response.text
    log = fhir_server_with_token.request_log()
    assert len(log) >= 7
    assert all(entry["bearer"] and entry["authorized"] for entry in log)
    # 24 B12 results fit one page of the template's _count=100 (paging: see below)
    assert offsets(fhir_server_with_token, "Observation") == [0]
    assert TEST_TOKEN not in frozen_server.log_text()


def test_without_the_token_the_servers_401_is_a_412_naming_the_keys(
    fhir_server_with_token: FhirServer, frozen_server: LiveService
) -> None:
    body = hook_request(patient_id=PATIENT_A, with_prefetch=False)
    body["fhirServer"] = fhir_server_with_token.base_url
    response = call_hook(frozen_server.base_url, body)
    assert response.status_code == 412, response.text
    diagnostics = assert_operation_outcome(response.json())
    assert "'labs'" in diagnostics and "HTTP 401" in diagnostics
    assert PATIENT_A not in response.text


def many_injections() -> list[dict[str, Any]]:
    """The overdue scenario plus 320 older monthly B12 injections (more history, same last dose)."""
    resources = OVERDUE.resources()
    given = [r for r in resources if r["resourceType"] == "MedicationAdministration"]
    first = min(date.fromisoformat(r["effectiveDateTime"]) for r in given)
    for i in range(1, EXTRA_INJECTIONS + 1):
        extra = copy.deepcopy(given[0])
        extra["id"] = stable_id(OVERDUE.patient_id, "extra-injection", i)
        extra["effectiveDateTime"] = (first - timedelta(days=30 * i)).isoformat()
        resources.append(extra)
    return resources


def test_paging_beyond_one_page_is_followed(
    scenario_fhir: FhirServer, frozen_server: LiveService
) -> None:
    scenario_fhir.reset_data()
    scenario_fhir.load(transaction(many_injections()))
    scenario_fhir.clear_request_log()
    response = call_hook(frozen_server.base_url, OVERDUE.no_prefetch(scenario_fhir.base_url))
    assert response.status_code == 200, response.text
    check_expected(response.json(), OVERDUE.expected, "326 injections over 4 pages")
    assert offsets(scenario_fhir, "MedicationAdministration") == [0, 100, 200, 300]
    assert "truncated" not in str(response.json())


def test_truncation_at_the_page_cap_is_a_caveat_in_the_card(
    scenario_fhir: FhirServer, fault_service: LiveService
) -> None:
    """The fault service stops after 3 pages (B12CDS_FHIR_PAGE_CAP=3) and says so. The search
    is sorted newest first, so only older injections are missing: the last dose is known and
    the overdue card keeps its warning."""
    scenario_fhir.reset_data()
    scenario_fhir.load(transaction(many_injections()))
    scenario_fhir.clear_request_log()
    response = call_hook(fault_service.base_url, OVERDUE.no_prefetch(scenario_fhir.base_url))
    assert response.status_code == 200, response.text
    assert rule_indicators(response.json())["maintenance-injection-overdue"] == "warning"
    card = next(
        c
        for c in response.json()["cards"]
        if c["source"]["topic"]["code"] == "maintenance-injection-overdue"
    )
    assert (
        "Records incomplete: medication administrations ('medadmins'), 300 of 326 read; "
        "3 page(s) were read from the FHIR server, then the page limit was reached; "
        "the search was sorted newest first, so older records are missing."
    ) in card["detail"]
    assert offsets(scenario_fhir, "MedicationAdministration") == [0, 100, 200]


def with_medication_reference(contained: bool) -> tuple[list[dict[str, Any]], str]:
    """ORDER_IN_PLACE with its B12 order naming a Medication (contained, or on the server)."""
    resources = ORDER_IN_PLACE.resources()
    order = next(r for r in resources if r["resourceType"] == "MedicationRequest")
    medication = {
        "resourceType": "Medication",
        "id": stable_id(ORDER_IN_PLACE.patient_id, "medication"),
        "code": order.pop("medicationCodeableConcept"),
    }
    if contained:
        medication["id"] = "b12"
        order["contained"] = [medication]
        order["medicationReference"] = {"reference": "#b12"}
    else:
        order["medicationReference"] = {"reference": f"Medication/{medication['id']}"}
        resources.append(medication)
    return resources, medication["id"]


def test_an_included_medication_is_resolved(
    scenario_fhir: FhirServer, frozen_server: LiveService
) -> None:
    resources, _ = with_medication_reference(contained=False)
    scenario_fhir.reset_data()
    scenario_fhir.load(transaction(resources))
    scenario_fhir.clear_request_log()
    response = call_hook(frozen_server.base_url, ORDER_IN_PLACE.no_prefetch(scenario_fhir.base_url))
    assert response.status_code == 200, response.text
    # unresolved, the order would not count as B12 maintenance and maintenance-not-started would speak
    check_expected(response.json(), ORDER_IN_PLACE.expected, "Medication by _include")
    queries = [e["query"] for e in scenario_fhir.request_log() if e["path"] == "/MedicationRequest"]
    assert any("_include=MedicationRequest%3Amedication" in q for q in queries), queries
    assert not any(e["path"].startswith("/Medication/") for e in scenario_fhir.request_log())


def test_a_contained_medication_is_resolved(
    scenario_fhir: FhirServer, frozen_server: LiveService
) -> None:
    resources, _ = with_medication_reference(contained=True)
    scenario_fhir.reset_data()
    scenario_fhir.load(transaction(resources))
    response = call_hook(frozen_server.base_url, ORDER_IN_PLACE.no_prefetch(scenario_fhir.base_url))
    assert response.status_code == 200, response.text
    check_expected(response.json(), ORDER_IN_PLACE.expected, "contained Medication")


def test_the_control_an_unresolvable_medication_changes_the_answer(
    scenario_fhir: FhirServer, frozen_server: LiveService
) -> None:
    """Without its Medication on the server, the same order is not known to be B12."""
    resources, medication_id = with_medication_reference(contained=False)
    scenario_fhir.reset_data()
    scenario_fhir.load(transaction([r for r in resources if r.get("id") != medication_id]))
    response = call_hook(frozen_server.base_url, ORDER_IN_PLACE.no_prefetch(scenario_fhir.base_url))
    assert response.status_code == 200, response.text
    assert "maintenance-not-started" in rule_indicators(response.json())


def test_a_medication_named_by_reference_only_is_read_from_the_fhir_server(
    scenario_fhir: FhirServer, frozen_server: LiveService
) -> None:
    """The client prefetched the order without its Medication (no `_include`): the service
    reads Medication/<id> itself, so the order counts as B12 maintenance."""
    resources, medication_id = with_medication_reference(contained=False)
    scenario_fhir.reset_data()
    scenario_fhir.load(transaction(resources))
    body = ORDER_IN_PLACE.full_prefetch(scenario_fhir.base_url)
    order = next(r for r in resources if r["resourceType"] == "MedicationRequest")
    body["prefetch"]["medrequests"] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": 1,
        "entry": [{"resource": order}],
    }
    scenario_fhir.clear_request_log()
    response = call_hook(frozen_server.base_url, body)
    assert response.status_code == 200, response.text
    check_expected(response.json(), ORDER_IN_PLACE.expected, "Medication read by reference")
    reads = [e["path"] for e in scenario_fhir.request_log()]
    assert reads == [f"/Medication/{medication_id}"], reads  # nothing else was fetched


def test_an_unreadable_medication_makes_absence_conclusions_unconfirmed(
    scenario_fhir: FhirServer, frozen_server: LiveService
) -> None:
    """The Medication is not on the server (404): the order is of an unknown drug, so "no
    maintenance regimen in place" cannot be confirmed and is shown as info."""
    resources, medication_id = with_medication_reference(contained=False)
    scenario_fhir.reset_data()
    scenario_fhir.load(transaction([r for r in resources if r.get("id") != medication_id]))
    response = call_hook(frozen_server.base_url, ORDER_IN_PLACE.no_prefetch(scenario_fhir.base_url))
    assert response.status_code == 200, response.text
    card = next(
        c
        for c in response.json()["cards"]
        if c["source"]["topic"]["code"] == "maintenance-not-started"
    )
    assert card["indicator"] == "info"
    assert "Unconfirmed (it would be warning)" in card["detail"]
    assert (
        "medication orders ('medrequests'), 1 of 1 name a Medication that could not be read"
        in card["detail"]
    )
