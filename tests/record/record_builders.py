"""Small builders for raw FHIR JSON used by the record-layer tests."""

from __future__ import annotations

from typing import Any

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
PATIENT = "p1"

HYDROXO_INJ = "317106"  # hydroxocobalamin 1 MG/ML Injectable Solution (VS_B12_IM)
B12_ORAL_1MG = "309593"  # vitamin B12 1 MG Oral Tablet (VS_B12_ORAL)
B12_INGREDIENT = "11248"  # vitamin B12 (VS_B12_THERAPY, no route)
CYANOKIT = "700499"  # antidote: EXCLUDED
FOLIC_ACID_1MG = "310410"  # folic acid 1 MG Oral Tablet
METFORMIN_500 = "861007"


def subject(patient: str = PATIENT) -> dict[str, Any]:
    return {"reference": f"Patient/{patient}"}


def obs(
    loinc: str,
    value: Any = None,
    unit: str | None = None,
    when: str | None = "2026-03-01",
    *,
    ident: str | None = "o1",
    comparator: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "subject": subject(),
        "code": {"coding": [{"system": LOINC, "code": loinc}]},
    }
    if ident is not None:
        resource["id"] = ident
    if when is not None:
        resource["effectiveDateTime"] = when
    if value is not None:
        quantity: dict[str, Any] = {"value": value}
        if unit is not None:
            quantity |= {"unit": unit, "system": UCUM, "code": unit}
        if comparator is not None:
            quantity["comparator"] = comparator
        resource["valueQuantity"] = quantity
    resource.update(extra)
    return resource


def concept(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def condition(
    system: str,
    code: str,
    *,
    ident: str = "c1",
    clinical: str | None = "active",
    verification: str | None = "confirmed",
    **extra: Any,
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "id": ident,
        "subject": subject(),
        "code": concept(system, code),
    }
    if clinical:
        resource["clinicalStatus"] = {"coding": [{"code": clinical}]}
    if verification:
        resource["verificationStatus"] = {"coding": [{"code": verification}]}
    resource.update(extra)
    return resource


def med_request(
    *,
    ident: str = "mr1",
    rxnorm: str | None = HYDROXO_INJ,
    dosage: dict[str, Any] | None = None,
    authored: str | None = "2026-01-10",
    status: str = "active",
    **extra: Any,
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": ident,
        "status": status,
        "intent": "order",
        "subject": subject(),
    }
    if rxnorm is not None:
        resource["medicationCodeableConcept"] = concept(RXNORM, rxnorm)
    if authored is not None:
        resource["authoredOn"] = authored
    if dosage is not None:
        resource["dosageInstruction"] = [dosage]
    resource.update(extra)
    return resource


def repeat(**fields: Any) -> dict[str, Any]:
    return {"timing": {"repeat": fields}}


def administration(*, ident: str = "ma1", when: str = "2026-02-01", **extra: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "MedicationAdministration",
        "id": ident,
        "status": "completed",
        "subject": subject(),
        "medicationCodeableConcept": concept(RXNORM, HYDROXO_INJ),
        "effectiveDateTime": when,
    }
    resource.update(extra)
    return resource
