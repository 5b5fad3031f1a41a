"""data.scopes: SMART v1 and v2 scopes, as CDS Hooks 2.0 and the 3.0 ballot send them."""

from __future__ import annotations

import pytest

from cds_service.data.scopes import parse_scope

TYPES = (
    "Patient",
    "Condition",
    "Procedure",
    "MedicationRequest",
    "MedicationStatement",
    "MedicationAdministration",
    "Observation",
    "Medication",
)
V1 = " ".join(f"user/{t}.read" for t in TYPES)  # as Epic writes them
V2 = " ".join(f"user/{t}.rs" for t in TYPES)  # CDS Hooks 3.0 ballot: SMART App Launch 2


@pytest.mark.parametrize(
    "scope", [V1, V2, "patient/*.read", "user/*.rs", "system/*.cruds", "user/*.*"]
)
def test_v1_and_v2_scopes_that_grant_reading_allow_every_search_and_read(scope: str) -> None:
    access = parse_scope(f"openid fhirUser launch {scope}")
    assert access.granted
    for resource_type in TYPES:
        assert access.allows(resource_type, search=True)
        assert access.allows(resource_type, search=False)
        assert access.narrowing(resource_type, search=True) is None


def test_what_a_scope_does_not_grant_is_refused() -> None:
    access = parse_scope(
        "user/Observation.r user/Condition.s patient/Procedure.write user/Patient.cud"
    )
    assert access.allows("Observation", search=False) and not access.allows(
        "Observation", search=True
    )
    assert access.allows("Condition", search=True) and not access.allows("Condition", search=False)
    assert not access.allows("Procedure", search=True)
    assert not access.allows("Patient", search=False)
    assert not access.allows("MedicationRequest", search=True)


def test_a_scope_without_resource_grants_refuses_nothing() -> None:
    for scope in (None, "", "openid fhirUser", "launch/patient", "user/observation.read"):
        access = parse_scope(scope)
        assert not access.granted and access.allows("Observation", search=True)


def test_a_narrowed_v2_scope_is_reported_unless_a_wider_grant_covers_the_type() -> None:
    narrow = parse_scope("user/Observation.rs?category=laboratory user/Condition.rs")
    assert narrow.allows("Observation", search=True)
    assert narrow.narrowing("Observation", search=True) == "category=laboratory"
    assert narrow.narrowing("Condition", search=True) is None
    wide = parse_scope("user/Observation.rs?category=laboratory user/*.rs")
    assert wide.narrowing("Observation", search=True) is None
