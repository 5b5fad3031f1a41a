"""Synthetic patients with a long history, and the hook call bodies built from them.

All data is made up. A patient has `n_labs` lab Observations (about half of them the
analytes the rules read - B12, folate, haemoglobin, MCV, homocysteine, PHQ-9 - the rest
unrelated chemistry, as an EHR that ignores the prefetch code filter would send) plus a
mix of Conditions, Procedures, MedicationRequests (one pointing at an included
Medication), MedicationStatements and MedicationAdministrations that grows with the
history. Dates are relative to the real today, because the service runs on the real clock.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import orjson

from fixtures.builders import (
    FOLIC_ACID_1MG,
    HYDROXO,
    IM_ROUTE,
    LOINC,
    METFORMIN_500,
    OMEPRAZOLE,
    ORAL_ROUTE,
    RXNORM,
    SNOMED,
    UCUM,
    bundle,
    concept,
)

Resource = dict[str, Any]
NS = uuid.UUID("0b3c9f52-6d1e-4b8a-9c2d-be7c40000000")
SIZES = (20, 200, 2000)
HOOKS = ("patient-view", "order-select")
SERVICE_OF = {"patient-view": "b12-patient-view", "order-select": "b12-order-select"}

# (LOINC, unit, low, high): the analytes the rules read...
RELEVANT_LABS = (
    ("14685-2", "pmol/L", 150, 600),  # B12
    ("2284-8", "ng/mL", 3, 20),  # serum folate
    ("718-7", "g/L", 105, 160),  # haemoglobin
    ("787-2", "fL", 80, 105),  # MCV
    ("13965-9", "umol/L", 6, 18),  # homocysteine
    ("44261-6", "{score}", 0, 12),  # PHQ-9
)
# ...and routine chemistry the rules never read.
OTHER_LABS = (
    ("2345-7", "mg/dL", 70, 180),  # glucose
    ("2160-0", "mg/dL", 0.6, 1.4),  # creatinine
    ("2951-2", "mmol/L", 133, 146),  # sodium
    ("2823-3", "mmol/L", 3.4, 5.2),  # potassium
    ("4548-4", "%", 5.2, 8.5),  # HbA1c
    ("1742-6", "U/L", 8, 60),  # ALT
    ("3016-3", "m[IU]/L", 0.3, 5),  # TSH
    ("2093-3", "mg/dL", 120, 260),  # cholesterol
)
OTHER_CONDITIONS = (
    ("44054006", "Diabetes mellitus type 2"),
    ("38341003", "Hypertensive disorder"),
    ("40930008", "Hypothyroidism"),
    ("396275006", "Osteoarthritis"),
    ("55822004", "Hyperlipidemia"),
    ("195967001", "Asthma"),
    ("235595009", "Gastroesophageal reflux disease"),
    ("271737000", "Anemia"),
)
OTHER_PROCEDURES = (
    ("73761001", "Colonoscopy"),
    ("110473004", "Cataract surgery"),
    ("179344006", "Total knee replacement"),
    ("80146002", "Appendectomy"),
)
OTHER_DRUGS = (
    concept(RXNORM, "308136", "amlodipine 2.5 MG Oral Tablet"),
    concept(RXNORM, "259255", "atorvastatin 80 MG Oral Tablet"),
    concept(RXNORM, "966247", "levothyroxine sodium 0.075 MG Oral Tablet"),
    concept(RXNORM, "313782", "acetaminophen 325 MG Oral Tablet"),
    concept(RXNORM, "197361", "amlodipine 5 MG Oral Tablet"),
)
VITAMIN_D = concept(RXNORM, "316672", "cholecalciferol 0.025 MG Oral Tablet")


@dataclass(frozen=True, slots=True)
class HookBody:
    """One request as sent on the wire."""

    n_labs: int
    hook: str
    service_id: str
    body: bytes
    resources: int  # FHIR resources in the body (prefetch and draft orders)


class _History:
    def __init__(self, n_labs: int, today: date) -> None:
        self.rng = random.Random(n_labs)  # deterministic per size
        self.today = today
        self.patient_id = str(uuid.uuid5(NS, f"patient-{n_labs}"))
        self.subject = {"reference": f"Patient/{self.patient_id}"}
        self._n = 0

    def ago(self, days: int) -> str:
        return (self.today - timedelta(days=days)).isoformat()

    def ident(self) -> str:
        self._n += 1
        return str(uuid.uuid5(NS, f"{self.patient_id}/{self._n}"))

    def lab(self, index: int, days: int, kind: tuple[str, str, float, float]) -> Resource:
        loinc, unit, low, high = kind
        value = round(self.rng.uniform(low, high), 1)
        quantity: Resource = {"value": value, "unit": unit, "system": UCUM, "code": unit}
        return {
            "resourceType": "Observation",
            "id": self.ident(),
            "meta": {"lastUpdated": f"{self.ago(days)}T09:30:00Z"},
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
            "code": {"coding": [{"system": LOINC, "code": loinc}], "text": f"lab {loinc}"},
            "subject": self.subject,
            "effectiveDateTime": f"{self.ago(days)}T08:{index % 60:02d}:00Z",
            "issued": f"{self.ago(days)}T12:00:00Z",
            "valueQuantity": quantity,
        }

    def condition(self, code: str, display: str, days: int, active: bool = True) -> Resource:
        return {
            "resourceType": "Condition",
            "id": self.ident(),
            "clinicalStatus": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                        "code": "active" if active else "resolved",
                    }
                ]
            },
            "verificationStatus": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                        "code": "confirmed",
                    }
                ]
            },
            "code": concept(SNOMED, code, display),
            "subject": self.subject,
            "onsetDateTime": self.ago(days),
            "recordedDate": self.ago(days),
        }

    def procedure(self, code: str, display: str, days: int) -> Resource:
        return {
            "resourceType": "Procedure",
            "id": self.ident(),
            "status": "completed",
            "code": concept(SNOMED, code, display),
            "subject": self.subject,
            "performedDateTime": self.ago(days),
        }

    def order(
        self,
        medication: Resource,
        days: int,
        *,
        status: str = "active",
        every: tuple[float, str] = (1, "d"),
        route: Resource = ORAL_ROUTE,
        dose: tuple[float, str] = (1, "mg"),
    ) -> Resource:
        resource: Resource = {
            "resourceType": "MedicationRequest",
            "id": self.ident(),
            "status": status,
            "intent": "order",
            "subject": self.subject,
            "authoredOn": self.ago(days),
            "dosageInstruction": [
                {
                    "timing": {
                        "repeat": {"frequency": 1, "period": every[0], "periodUnit": every[1]}
                    },
                    "route": route,
                    "doseAndRate": [
                        {
                            "doseQuantity": {
                                "value": dose[0],
                                "unit": dose[1],
                                "system": UCUM,
                                "code": dose[1],
                            }
                        }
                    ],
                }
            ],
        }
        resource |= medication
        return resource

    def statement(self, drug: Resource, days: int) -> Resource:
        return {
            "resourceType": "MedicationStatement",
            "id": self.ident(),
            "status": "active",
            "medicationCodeableConcept": drug,
            "subject": self.subject,
            "effectivePeriod": {"start": self.ago(days)},
            "dateAsserted": self.ago(days),
        }

    def injection(self, days: int) -> Resource:
        return {
            "resourceType": "MedicationAdministration",
            "id": self.ident(),
            "status": "completed",
            "medicationCodeableConcept": HYDROXO,
            "subject": self.subject,
            "effectiveDateTime": f"{self.ago(days)}T10:15:00Z",
            "dosage": {
                "route": IM_ROUTE,
                "dose": {"value": 1, "unit": "mg", "system": UCUM, "code": "mg"},
            },
        }


def history(n_labs: int, today: date) -> tuple[str, dict[str, list[Resource]], Resource]:
    """(patient id, resources by prefetch key, the Patient resource) for one synthetic patient."""
    h = _History(n_labs, today)
    span = max(3650, n_labs * 2)  # up to ten years of results (more for huge histories)
    labs = []
    for i in range(n_labs):
        kinds = RELEVANT_LABS if i % 2 == 0 else OTHER_LABS
        labs.append(h.lab(i, 1 + (i * span) // max(n_labs, 1), kinds[(i // 2) % len(kinds)]))

    conditions = [
        h.condition("84027009", "Pernicious anemia", 1500),
        h.condition("42345000", "Polyneuropathy", 1400),
    ]
    for i in range(6 + n_labs // 25):
        code, display = OTHER_CONDITIONS[i % len(OTHER_CONDITIONS)]
        conditions.append(h.condition(code, display, 200 + 37 * i, active=i % 3 != 0))

    procedures = []
    for i in range(2 + n_labs // 100):
        code, display = OTHER_PROCEDURES[i % len(OTHER_PROCEDURES)]
        procedures.append(h.procedure(code, display, 300 + 91 * i))

    metformin_id = h.ident()
    metformin = {
        "resourceType": "Medication",
        "id": metformin_id,
        "code": METFORMIN_500,
        "form": concept(SNOMED, "385055001", "Tablet"),
    }
    medrequests: list[Resource] = [
        h.order(
            {"medicationCodeableConcept": HYDROXO},
            700,
            every=(12, "wk"),
            route=IM_ROUTE,
        ),
        h.order({"medicationReference": {"reference": f"Medication/{metformin_id}"}}, 900),
        h.order({"medicationCodeableConcept": OMEPRAZOLE}, 500, dose=(20, "mg")),
    ]
    for i in range(3 + n_labs // 40):
        drug = OTHER_DRUGS[i % len(OTHER_DRUGS)]
        status = "active" if i < len(OTHER_DRUGS) else "stopped"
        medrequests.append(
            h.order(
                {"medicationCodeableConcept": drug}, 100 + 53 * i, status=status, dose=(5, "mg")
            )
        )
    medrequests.append(metformin)  # _include=MedicationRequest:medication

    statements = [h.statement(VITAMIN_D, 400)]
    for i in range(2 + n_labs // 100):
        statements.append(h.statement(OTHER_DRUGS[(i + 3) % len(OTHER_DRUGS)], 150 + 61 * i))

    injections = [h.injection(60 + 84 * i) for i in range(4 + n_labs // 50)]

    patient = {
        "resourceType": "Patient",
        "id": h.patient_id,
        "birthDate": f"{today.year - 68}-05-02",
        "gender": "female",
        "name": [{"family": "Synthetic", "given": ["Bench"]}],
    }
    by_key = {
        "conditions": conditions,
        "procedures": procedures,
        "medrequests": medrequests,
        "medstatements": statements,
        "medadmins": injections,
        "labs": labs,
    }
    return h.patient_id, by_key, patient


def folic_acid_draft(patient_id: str, today: date) -> Resource:
    return {
        "resourceType": "MedicationRequest",
        "id": "draft-folic-acid",
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": FOLIC_ACID_1MG,
        "subject": {"reference": f"Patient/{patient_id}"},
        "authoredOn": today.isoformat(),
        "dosageInstruction": [
            {
                "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
                "route": ORAL_ROUTE,
                "doseAndRate": [
                    {"doseQuantity": {"value": 1, "unit": "mg", "system": UCUM, "code": "mg"}}
                ],
            }
        ],
    }


def hook_request(hook: str, n_labs: int, today: date | None = None) -> dict[str, Any]:
    """A full-prefetch request for `hook` about the synthetic patient with `n_labs` labs."""
    day = today or date.today()
    patient_id, by_key, patient = history(n_labs, day)
    prefetch: dict[str, Any] = {"patient": patient} if hook == "patient-view" else {}
    prefetch |= {key: bundle(resources) for key, resources in by_key.items()}
    context: dict[str, Any] = {"userId": "Practitioner/bench-gp", "patientId": patient_id}
    if hook == "order-select":
        draft = folic_acid_draft(patient_id, day)
        context["draftOrders"] = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": draft}],
        }
        context["selections"] = [f"MedicationRequest/{draft['id']}"]
    return {
        "hookInstance": str(uuid.uuid5(NS, f"{hook}-{n_labs}")),
        "hook": hook,
        "context": context,
        "prefetch": prefetch,
    }


def bodies(sizes: tuple[int, ...] = SIZES, today: date | None = None) -> list[HookBody]:
    """Every (N, hook) body, serialised once."""
    found = []
    for n in sizes:
        for hook in HOOKS:
            data = hook_request(hook, n, today)
            count = sum(
                len(v["entry"]) if v.get("resourceType") == "Bundle" else 1
                for v in data["prefetch"].values()
            ) + len(data["context"].get("draftOrders", {}).get("entry", []))
            found.append(HookBody(n, hook, SERVICE_OF[hook], orjson.dumps(data), count))
    return found
