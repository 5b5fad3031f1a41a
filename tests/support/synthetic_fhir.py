"""Synthetic FHIR R4 transaction Bundles for the test FHIR server (no real patient data).

Every resource has a fixed UUID and is written with PUT, so reloading is idempotent and tests
can name resources directly. Patient A has enough lab results (> 20) to force paging.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
B12_MOLAR = "14685-2"  # Cobalamin [Moles/volume] in Serum or Plasma
HOMOCYSTEINE = "13965-9"  # Homocysteine [Moles/volume] in Serum or Plasma

PATIENT_A = "0d6c1a52-3f1e-4d38-9a57-6c2b1f0a0001"
PATIENT_B = "0d6c1a52-3f1e-4d38-9a57-6c2b1f0a0002"
MEDICATION_B12_IM = "0d6c1a52-3f1e-4d38-9a57-6c2b1f0a00e1"
B12_RESULTS_A = 24
HCY_RESULTS_A = 3
B12_RESULTS_B = 2
HCY_RESULTS_B = 1

_NAMESPACE = uuid.UUID("6f1d2c3b-5a49-4e8f-8d7c-1b2a3c4d5e6f")


def stable_id(*parts: object) -> str:
    """A UUID derived from `parts`, the same on every run."""
    return str(uuid.uuid5(_NAMESPACE, "/".join(map(str, parts))))


def _put(resource: dict[str, Any]) -> dict[str, Any]:
    kind, rid = resource["resourceType"], resource["id"]
    return {
        "fullUrl": f"urn:uuid:{rid}",
        "resource": resource,
        "request": {"method": "PUT", "url": f"{kind}/{rid}"},
    }


def patient(pid: str, family: str, birth_date: str, gender: str) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": pid,
        "name": [{"family": family, "given": ["Test"]}],
        "gender": gender,
        "birthDate": birth_date,
    }


def lab(pid: str, loinc: str, value: float, unit: str, when: date, index: int) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": stable_id(pid, loinc, index),
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "laboratory",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": LOINC, "code": loinc}]},
        "subject": {"reference": f"Patient/{pid}"},
        "effectiveDateTime": when.isoformat(),
        "valueQuantity": {
            "value": value,
            "unit": unit,
            "system": "http://unitsofmeasure.org",
            "code": unit,
        },
    }


def condition(pid: str, snomed: str, display: str, onset: str) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": stable_id(pid, "Condition", snomed),
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": "active",
                }
            ]
        },
        "code": {"coding": [{"system": SNOMED, "code": snomed, "display": display}]},
        "subject": {"reference": f"Patient/{pid}"},
        "onsetDateTime": onset,
    }


def medication_b12_im() -> dict[str, Any]:
    return {
        "resourceType": "Medication",
        "id": MEDICATION_B12_IM,
        "code": {
            "coding": [
                {
                    "system": RXNORM,
                    "code": "309594",
                    "display": "vitamin B12 1 MG/ML Injectable Solution",
                }
            ]
        },
    }


def medication_request(pid: str, medication_id: str, authored: str) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": stable_id(pid, "MedicationRequest", medication_id, authored),
        "status": "active",
        "intent": "order",
        "medicationReference": {"reference": f"Medication/{medication_id}"},
        "subject": {"reference": f"Patient/{pid}"},
        "authoredOn": authored,
        "dosageInstruction": [{"text": "1 mg IM every 3 months"}],
    }


def example_bundle(today: date | None = None) -> dict[str, Any]:
    """Two patients: A (B12 deficiency, pernicious anaemia, many results) and B (few results)."""
    today = today or date(2025, 6, 1)
    resources: list[dict[str, Any]] = [
        patient(PATIENT_A, "Alpha", "1956-03-14", "female"),
        patient(PATIENT_B, "Bravo", "1971-11-02", "male"),
        medication_b12_im(),
    ]
    for i in range(B12_RESULTS_A):
        resources.append(
            lab(PATIENT_A, B12_MOLAR, 150 + 5 * i, "pmol/L", today - timedelta(days=30 * i), i)
        )
    for i in range(HCY_RESULTS_A):
        resources.append(
            lab(PATIENT_A, HOMOCYSTEINE, 14 - i, "umol/L", today - timedelta(days=45 * i), i)
        )
    for i in range(B12_RESULTS_B):
        resources.append(
            lab(PATIENT_B, B12_MOLAR, 320 + i, "pmol/L", today - timedelta(days=90 * i), i)
        )
    for i in range(HCY_RESULTS_B):
        resources.append(lab(PATIENT_B, HOMOCYSTEINE, 9, "umol/L", today - timedelta(days=60), i))
    resources += [
        condition(PATIENT_A, "190634004", "Cobalamin deficiency", "2023-01-10"),
        condition(PATIENT_A, "84027009", "Pernicious anemia", "2023-02-01"),
        condition(PATIENT_B, "44054006", "Diabetes mellitus type 2", "2015-05-05"),
        medication_request(PATIENT_A, MEDICATION_B12_IM, "2025-03-01"),
        medication_request(PATIENT_B, MEDICATION_B12_IM, "2024-12-15"),
    ]
    return {"resourceType": "Bundle", "type": "transaction", "entry": [_put(r) for r in resources]}
