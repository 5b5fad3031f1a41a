"""The test FHIR server behaves like a real one where the service depends on it (real HTTP)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.support.fhir_server import (
    TEST_TOKEN,
    FhirServer,
    FhirServerError,
    start_fhir_server,
)
from tests.support.synthetic_fhir import (
    B12_MOLAR,
    B12_RESULTS_A,
    B12_RESULTS_B,
    HCY_RESULTS_A,
    HCY_RESULTS_B,
    HOMOCYSTEINE,
    LOINC,
    MEDICATION_B12_IM,
    PATIENT_A,
    PATIENT_B,
    SNOMED,
    example_bundle,
)

BOTH_CODES = f"{LOINC}|{B12_MOLAR},{LOINC}|{HOMOCYSTEINE}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FhirServer]:
    srv = start_fhir_server(tmp_path_factory, bundle=example_bundle())
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FhirServer]:
    srv = start_fhir_server(tmp_path_factory, token=TEST_TOKEN, bundle=example_bundle())
    yield srv
    srv.stop()


def _ok(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/fhir+json")
    body: dict[str, Any] = response.json()
    return body


def _matches(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]


def _link(bundle: dict[str, Any], relation: str) -> str | None:
    return next((li["url"] for li in bundle.get("link", []) if li["relation"] == relation), None)


def _all_pages(server: FhirServer, first: dict[str, Any]) -> list[dict[str, Any]]:
    pages, bundle = [first], first
    while (next_url := _link(bundle, "next")) is not None:
        assert len(pages) < 50, "endless next links"
        bundle = _ok(server.get(next_url))
        pages.append(bundle)
    return pages


def test_ready_line_names_a_loopback_base_url(server: FhirServer) -> None:
    assert server.base_url.startswith("http://127.0.0.1:")
    assert server.base_url.endswith("/fhir")
    assert server.startup_seconds < 30


def test_metadata_is_an_r4_capability_statement(server: FhirServer) -> None:
    body = _ok(server.get("metadata"))
    assert body["resourceType"] == "CapabilityStatement"
    assert body["fhirVersion"] == "4.0.1"


def test_read_returns_the_loaded_patient_and_404_for_an_unknown_one(server: FhirServer) -> None:
    patient = _ok(server.get(f"Patient/{PATIENT_A}"))
    assert patient["resourceType"] == "Patient"
    assert patient["id"] == PATIENT_A
    assert patient["name"][0]["family"] == "Alpha"
    missing = server.get("Patient/00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404
    assert missing.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize(
    ("pid", "code", "expected"),
    [
        (PATIENT_A, BOTH_CODES, B12_RESULTS_A + HCY_RESULTS_A),
        (PATIENT_B, BOTH_CODES, B12_RESULTS_B + HCY_RESULTS_B),
        (PATIENT_A, f"{LOINC}|{HOMOCYSTEINE}", HCY_RESULTS_A),
        (f"Patient/{PATIENT_B}", f"{LOINC}|{B12_MOLAR}", B12_RESULTS_B),
        (PATIENT_A, "http://loinc.org|2132-9", 0),
    ],
)
def test_search_by_patient_and_code_list(
    server: FhirServer, pid: str, code: str, expected: int
) -> None:
    bundle = _ok(server.get("Observation", patient=pid, code=code, _count="100"))
    assert bundle["resourceType"] == "Bundle"
    assert bundle["type"] == "searchset"
    assert bundle["total"] == expected
    found = _matches(bundle)
    assert len(found) == expected
    wanted = {c.split("|")[1] for c in code.split(",")}
    subject = pid if pid.startswith("Patient/") else f"Patient/{pid}"
    for obs in found:
        assert obs["subject"]["reference"] == subject
        assert obs["code"]["coding"][0]["code"] in wanted


@pytest.mark.parametrize(
    ("resource_type", "params", "expected"),
    [
        ("Condition", {"patient": PATIENT_A}, 2),
        ("Condition", {"subject": f"Patient/{PATIENT_A}", "code": f"{SNOMED}|84027009"}, 1),
        ("Condition", {"patient": PATIENT_B, "clinical-status": "active"}, 1),
        ("MedicationRequest", {"patient": PATIENT_B, "status": "active"}, 1),
        ("MedicationRequest", {"medication": f"Medication/{MEDICATION_B12_IM}"}, 2),
        ("Observation", {"subject:Patient": PATIENT_B}, B12_RESULTS_B + HCY_RESULTS_B),
        ("Observation", {"patient": PATIENT_A, "date": "ge2025-01-01"}, 9),
        ("Observation", {"patient": PATIENT_A, "date": "lt2025-01-01"}, 18),
    ],
)
def test_search_other_clinical_parameters(
    server: FhirServer, resource_type: str, params: dict[str, str], expected: int
) -> None:
    bundle = _ok(server.get(resource_type, **params))
    assert bundle["total"] == expected
    assert {r["resourceType"] for r in _matches(bundle)} <= {resource_type}


def test_sort_descending_by_date(server: FhirServer) -> None:
    bundle = _ok(server.get("Observation", patient=PATIENT_A, _sort="-date", _count="100"))
    dates = [o["effectiveDateTime"] for o in _matches(bundle)]
    assert len(dates) == B12_RESULTS_A + HCY_RESULTS_A
    assert dates == sorted(dates, reverse=True)


def test_include_returns_the_referenced_medication(server: FhirServer) -> None:
    bundle = _ok(
        server.get("MedicationRequest", patient=PATIENT_A, _include="MedicationRequest:medication")
    )
    requests_found = _matches(bundle)
    assert len(requests_found) == 1
    assert (
        requests_found[0]["medicationReference"]["reference"] == f"Medication/{MEDICATION_B12_IM}"
    )
    included = [e for e in bundle["entry"] if e["search"]["mode"] == "include"]
    assert [e["resource"]["id"] for e in included] == [MEDICATION_B12_IM]
    assert included[0]["resource"]["resourceType"] == "Medication"
    assert included[0]["fullUrl"] == f"{server.base_url}/Medication/{MEDICATION_B12_IM}"


def test_without_include_no_medication_is_returned(server: FhirServer) -> None:
    bundle = _ok(server.get("MedicationRequest", patient=PATIENT_A))
    assert {e["resource"]["resourceType"] for e in bundle["entry"]} == {"MedicationRequest"}


def test_default_page_size_is_20_and_next_links_yield_every_entry_once(server: FhirServer) -> None:
    total = B12_RESULTS_A + HCY_RESULTS_A
    assert total > 20, "fixture must exceed one default page"
    first = _ok(server.get("Observation", patient=PATIENT_A, code=BOTH_CODES, _sort="-date"))
    assert first["total"] == total
    assert len(_matches(first)) == 20
    assert _link(first, "next") is not None
    assert _link(first, "previous") is None
    pages = _all_pages(server, first)
    assert len(pages) == 2
    assert _link(pages[-1], "previous") is not None
    ids = [o["id"] for page in pages for o in _matches(page)]
    assert len(ids) == total
    assert len(set(ids)) == total
    dates = [o["effectiveDateTime"] for page in pages for o in _matches(page)]
    assert dates == sorted(dates, reverse=True)


def test_count_sets_the_page_size(server: FhirServer) -> None:
    total = B12_RESULTS_A + HCY_RESULTS_A
    first = _ok(server.get("Observation", patient=PATIENT_A, _count="10"))
    pages = _all_pages(server, first)
    assert [len(_matches(p)) for p in pages] == [10, 10, total - 20]
    ids = {o["id"] for page in pages for o in _matches(page)}
    assert len(ids) == total


def test_post_search_with_a_form_body_matches_get(server: FhirServer) -> None:
    response = requests.post(
        f"{server.base_url}/Observation/_search",
        data={"patient": PATIENT_A, "code": BOTH_CODES, "_count": "100"},
        headers=server.headers(),
        timeout=30,
    )
    posted = _ok(response)
    got = _ok(server.get("Observation", patient=PATIENT_A, code=BOTH_CODES, _count="100"))
    assert posted["total"] == got["total"] == B12_RESULTS_A + HCY_RESULTS_A
    assert {o["id"] for o in _matches(posted)} == {o["id"] for o in _matches(got)}


@pytest.mark.parametrize(
    "params",
    [
        {"patient": PATIENT_A, "no-such-param": "x"},
        {"value-quantity": "gt100"},
        {"code-value-quantity": f"{LOINC}|{B12_MOLAR}$gt100"},
        {"_sort": "no-such-param"},
        {"code:in": "http://example.org/ValueSet/x"},
        {"_count": "many"},
        {"subject": PATIENT_A},
    ],
)
def test_unsupported_search_is_refused_with_400(server: FhirServer, params: dict[str, str]) -> None:
    response = server.get("Observation", **params)
    assert response.status_code == 400, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["severity"] == "error"


def test_invalid_resources_are_refused_on_load(server: FhirServer) -> None:
    bundle = copy.deepcopy(example_bundle())
    observation = next(e for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation")
    del observation["resource"]["code"]
    with pytest.raises(FhirServerError, match="400"):
        server.load(bundle)


def test_token_is_required_when_configured(token_server: FhirServer) -> None:
    url = f"{token_server.base_url}/Patient/{PATIENT_A}"
    token_server.clear_request_log()
    assert requests.get(url, timeout=10).status_code == 401
    wrong = requests.get(url, headers={"Authorization": "Bearer wrong"}, timeout=10)
    assert wrong.status_code == 401
    assert wrong.json()["resourceType"] == "OperationOutcome"
    assert wrong.headers["WWW-Authenticate"].startswith("Bearer")
    assert _ok(token_server.get(f"Patient/{PATIENT_A}"))["id"] == PATIENT_A
    log = token_server.request_log()
    assert [(r["bearer"], r["authorized"]) for r in log] == [
        (False, False),
        (True, False),
        (True, True),
    ]
    assert TEST_TOKEN not in str(log)


def test_no_token_needed_when_not_configured(server: FhirServer) -> None:
    response = requests.get(f"{server.base_url}/Patient/{PATIENT_B}", timeout=10)
    assert _ok(response)["id"] == PATIENT_B


def test_elements_returns_subsetted_resources(server: FhirServer) -> None:
    bundle = _ok(server.get("Observation", patient=PATIENT_B, _elements="code,subject"))
    for obs in _matches(bundle):
        assert set(obs) == {"resourceType", "id", "meta", "code", "subject"}
        assert any(t["code"] == "SUBSETTED" for t in obs["meta"]["tag"])
