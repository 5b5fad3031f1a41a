"""The published prefetch templates ask for the newest records first, on a real FHIR server.

A server with a page size of 3 (tests/fhirserver `--page-size 3`, which also caps `_count`)
holds five records of every type a template searches, loaded in shuffled date order. Each
template, filled for that patient, must name an R4 sort parameter the server knows (it answers
400 for any other) and its first page must hold the three newest records by the date the rules
count with, with a `next` link and `total` 5: whatever a client cuts, it cuts the oldest.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qsl

import pytest

from cds_service.data.templates import fill
from cds_service.protocol.catalog import load_catalog
from tests.data.scenarios import transaction
from tests.support.fhir_server import FhirServer, start_fhir_server
from tests.support.synthetic_fhir import stable_id

PATIENT = "5e0c2a1b-7d3f-4b6a-9c8e-1f2a3b4c5d01"
TODAY = date(2026, 11, 25)
SHUFFLED_DAYS_AGO = (400, 20, 250, 90, 700)  # newest three: 20, 90, 250
LOINC = "http://loinc.org"

# where each searched type keeps the date the rules count with
DATE_FIELD = {
    "Condition": "recordedDate",
    "Procedure": "performedDateTime",
    "MedicationRequest": "authoredOn",
    "MedicationStatement": "effectiveDateTime",
    "MedicationAdministration": "effectiveDateTime",
    "Observation": "effectiveDateTime",
}


def record(kind: str, index: int, days_ago: int) -> dict[str, Any]:
    when = (TODAY - timedelta(days=days_ago)).isoformat()
    subject = {"reference": f"Patient/{PATIENT}"}
    concept = {"text": f"test {kind} {index}"}
    base: dict[str, Any] = {"resourceType": kind, "id": stable_id(PATIENT, kind, index)}
    if kind == "Condition":
        base.update(subject=subject, code=concept)
    elif kind == "Procedure":
        base.update(subject=subject, code=concept, status="completed")
    elif kind == "MedicationRequest":
        base.update(
            subject=subject, medicationCodeableConcept=concept, status="active", intent="order"
        )
    elif kind == "MedicationStatement":
        base.update(subject=subject, medicationCodeableConcept=concept, status="active")
    elif kind == "MedicationAdministration":
        base.update(subject=subject, medicationCodeableConcept=concept, status="completed")
    else:
        code = {"coding": [{"system": LOINC, "code": "14685-2"}], "text": "B12"}
        base.update(
            subject=subject,
            code=code,
            status="final",
            valueQuantity={"value": 300, "unit": "pmol/L"},
        )
    base[DATE_FIELD[kind]] = when
    return base


@pytest.fixture(scope="module")
def small_pages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FhirServer]:
    resources: list[dict[str, Any]] = [{"resourceType": "Patient", "id": PATIENT}]
    for kind in DATE_FIELD:
        resources += [record(kind, i, d) for i, d in enumerate(SHUFFLED_DAYS_AGO)]
    server = start_fhir_server(tmp_path_factory, bundle=transaction(resources), page_size=3)
    yield server
    server.stop()


SEARCHES = [
    (service.id, key, template)
    for service in load_catalog().services
    for key, template in service.prefetch.items()
    if "?" in template
]


def test_every_search_template_sorts_newest_first_with_a_count() -> None:
    for service_id, key, template in SEARCHES:
        params = parse_qsl(template.partition("?")[2])
        names = [name for name, _ in params]
        # the CDS Hooks sandbox merges repeated parameters into one comma list
        assert len(names) == len(set(names)), f"{service_id} {key} repeats a parameter"
        sort = dict(params).get("_sort", "")
        assert sort.startswith("-") and "," not in sort, f"{service_id} {key}: {sort!r}"
        assert int(dict(params)["_count"]) >= 50, f"{service_id} {key}"


@pytest.mark.parametrize(
    ("service_id", "key", "template"), SEARCHES, ids=[f"{s}-{k}" for s, k, _ in SEARCHES]
)
def test_the_first_page_of_a_template_holds_the_newest_records(
    small_pages: FhirServer, service_id: str, key: str, template: str
) -> None:
    query = fill(template, {"patientId": PATIENT})
    response = small_pages.get(query.path, **dict(query.params))
    assert response.status_code == 200, f"{service_id} {key}: {response.text}"
    page = response.json()
    found = [
        e["resource"] for e in page.get("entry", []) if e["resource"]["resourceType"] == query.path
    ]
    assert page["total"] == len(SHUFFLED_DAYS_AGO)
    assert any(link["relation"] == "next" for link in page["link"])
    dates = [r[DATE_FIELD[query.path]] for r in found]
    newest = sorted(
        ((TODAY - timedelta(days=d)).isoformat() for d in SHUFFLED_DAYS_AGO), reverse=True
    )
    assert dates == newest[:3], f"{service_id} {key}"
