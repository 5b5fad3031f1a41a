"""data.references: which Medications named by reference the service reads itself."""

from __future__ import annotations

import pytest

from cds_service.data.references import (
    MAX_MEDICATION_READS,
    draft_resources,
    medication_id,
    reads,
    unresolved,
    with_medications,
)

BASE = "https://ehr.example.org/fhir/r4"


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("Medication/abc-1", "abc-1"),
        (f"{BASE}/Medication/abc-1", "abc-1"),
        (f"{BASE}/Medication/abc-1/_history/3", "abc-1"),
        ("#med1", None),  # contained: the reader resolves it
        ("https://other.example.org/fhir/r4/Medication/abc-1", None),  # never another server
        (f"{BASE}/Substance/abc-1", None),
        ("Medication/../Patient", None),
        ("Medication/a?b=c", None),
        ("Medication/..", None),
        ("Medication/", None),
    ],
)
def test_a_reference_names_a_medication_on_this_server_or_nothing(
    ref: str, expected: str | None
) -> None:
    assert medication_id(ref, BASE) == expected


def order(ref: str, rid: str = "o1") -> dict[str, object]:
    return {
        "resourceType": "MedicationRequest",
        "id": rid,
        "medicationReference": {"reference": ref},
    }


def test_only_medications_not_already_held_are_unresolved() -> None:
    held = {"resourceType": "Medication", "id": "m2"}
    found = unresolved([order("Medication/m1"), order("Medication/m2", "o2"), held], BASE)
    assert list(found) == ["m1"]
    assert list(reads(found)) == ["Medication/m1"]
    assert reads(found)["Medication/m1"].path == "Medication/m1"
    assert MAX_MEDICATION_READS == 20


def test_draft_orders_gain_the_medications_they_name_without_changing_the_request() -> None:
    drafts = {"resourceType": "Bundle", "entry": [{"resource": order("Medication/m1")}]}
    medication = {"resourceType": "Medication", "id": "m1", "code": {"text": "folic acid 5 mg"}}
    merged = with_medications(drafts, [medication])
    assert [e["resource"]["resourceType"] for e in merged["entry"]] == [
        "MedicationRequest",
        "Medication",
    ]
    assert len(drafts["entry"]) == 1
    assert draft_resources(merged)[1] is medication
    assert with_medications(drafts, []) is drafts


def test_odd_shapes_are_passed_over() -> None:
    odd = [
        {
            "resourceType": ["MedicationRequest"],
            "medicationReference": {"reference": "Medication/x"},
        },
        {"resourceType": "MedicationRequest", "medicationReference": "Medication/x"},
        {"resourceType": "MedicationRequest", "medicationReference": {"reference": 5}},
        {
            "resourceType": "MedicationRequest",
            "medication": {"reference": {"reference": "Medication/r5"}},
        },
        {
            "resourceType": "MedicationRequest",
            "medicationReference": {"reference": "http://[::1/x"},
        },
    ]
    assert list(unresolved(odd, BASE)) == ["r5"]  # the R5 CodeableReference shape is read
    assert draft_resources("not a bundle") == []
    assert draft_resources({"entry": {"resource": {"resourceType": "MedicationRequest"}}}) != []
