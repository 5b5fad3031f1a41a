"""Suggestion intents -> CDS Hooks suggestions carrying valid FHIR R4 resources.

The strict writer: every resource is built as plain JSON and validated through the
`fhir.resources.R4B` models (the resources used here are identical in R4 and R4B). An
order the EHR sent (an `update`) is validated on every call and emitted from the model,
which normalises it. A resource built here from our own templates is already in that
canonical form (tests/cards checks every template variant), so it is emitted as built.
Its validity is fixed by the template variant (which order, which interval, whether an
encounter and a requester are named) once the per-call values are plain FHIR ids: the
first resource of each variant is validated by the model, later ones of that variant
skip it. Per-call values that are not plain ids are validated every time. A suggestion
whose resource cannot be made valid (e.g. an `update` of a draft order an EHR sent in a
non-R4 shape we cannot repair) is dropped, never sent half-valid. This is the only module
that imports fhir.resources.
"""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.servicerequest import ServiceRequest
from pydantic import ValidationError

from cds_service.record.model import Analyte
from cds_service.rules.base import (
    ChangeOralDose,
    ChangeOrderInterval,
    ProposeB12Injection,
    ProposeLabTests,
    RemoveDraft,
    ReplaceWithB12Injection,
    SuggestionIntent,
)
from cds_service.rules.facts.wording import interval_text, prescribing_unit

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
# a delete action must name the draft as Type/id; an order without a usable id cannot be named
_RESOURCE_ID = re.compile(r"[A-Za-z]+/[A-Za-z0-9\-.]{1,64}")
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
# template variants the models accepted, with plain-id per-call values; the variants are
# few (orders x intervals x context shape), the bound only guards against a surprise
_VALIDATED_VARIANTS: set[tuple[Any, ...]] = set()
_MAX_VARIANTS = 4096

HYDROXOCOBALAMIN_1MG_ML = {
    "coding": [
        {
            "system": RXNORM,
            "code": "317106",
            "display": "hydroxocobalamin 1 MG/ML Injectable Solution",
        },
        {"system": ATC, "code": "B03BA03", "display": "hydroxocobalamin"},
    ],
    "text": "Hydroxocobalamin 1 mg/1 mL solution for injection",
}
INTRAMUSCULAR = {
    "coding": [{"system": SNOMED, "code": "78421000", "display": "Intramuscular route"}],
    "text": "Intramuscular",
}
ONE_MG = {"value": 1, "unit": "mg", "system": UCUM, "code": "mg"}

LAB_ORDERS: Mapping[Analyte, tuple[str, str]] = {
    Analyte.B12: ("2132-9", "Cobalamin (Vitamin B12) [Mass/volume] in Serum or Plasma"),
    Analyte.HOLOTC: ("72160-5", "Holo-transcobalamin II [Moles/volume] in Serum"),
    Analyte.MMA: ("13964-2", "Methylmalonate [Moles/volume] in Serum or Plasma"),
    Analyte.HOMOCYSTEINE: ("13965-9", "Homocysteine [Moles/volume] in Serum or Plasma"),
    Analyte.FOLATE: ("2284-8", "Folate [Mass/volume] in Serum or Plasma"),
}


# what a clinician calls each test: an action's description, and its label when a client
# that applies one action per suggestion gets each test as a suggestion of its own
LAB_WORDS: Mapping[Analyte, str] = {
    Analyte.B12: "serum B12",
    Analyte.HOLOTC: "active B12 (holotranscobalamin)",
    Analyte.MMA: "methylmalonic acid (MMA)",
    Analyte.HOMOCYSTEINE: "homocysteine",
    Analyte.FOLATE: "serum folate",
}


def _repeat(days: int) -> dict[str, Any]:
    """A timing.repeat in the unit a prescriber would write: weeks, months or days."""
    period, unit = prescribing_unit(days)
    return {"frequency": 1, "period": period, "periodUnit": unit}


class SuggestionWriter:
    """Builds suggestions for one call (patient, encounter, user, the day, raw orders)."""

    def __init__(
        self,
        patient_id: str,
        today: date,
        resources: Mapping[str, Mapping[str, Any]],
        encounter_id: str | None = None,
        user_id: str | None = None,
        *,
        drafts: frozenset[str] = frozenset(),
        update_orders: bool = True,
    ) -> None:
        self.patient_id = patient_id
        self.today = today
        self.resources = resources
        self.encounter_id = encounter_id
        self.user_id = user_id
        self.drafts = drafts  # refs of the draft orders (a client may delete these)
        self.update_orders = update_orders  # False: a client that cannot update an order
        # Patient/Encounter/requester references and a date: when these are plain ids, a
        # template's validity depends on its variant only
        self._plain_context = (
            _FHIR_ID.fullmatch(patient_id) is not None
            and (not encounter_id or _FHIR_ID.fullmatch(encounter_id) is not None)
            and (not user_id or _RESOURCE_ID.fullmatch(user_id) is not None)
        )

    def build(self, intent: SuggestionIntent) -> dict[str, Any] | None:
        builders: dict[type, Callable[[Any], list[dict[str, Any]] | None]] = {
            ProposeB12Injection: self._propose_injection,
            ProposeLabTests: self._propose_labs,
            ChangeOrderInterval: self._change_interval,
            ChangeOralDose: self._change_dose,
            RemoveDraft: self._remove,
            ReplaceWithB12Injection: self._replace,
        }
        try:
            actions = builders[type(intent)](intent)
        except (ValidationError, KeyError, TypeError, ValueError, AttributeError, IndexError):
            return None  # a suggestion we cannot make valid is not sent
        if not actions:
            return None
        suggestion: dict[str, Any] = {
            "label": intent.label,
            "uuid": str(uuid.uuid4()),
            "actions": actions,
        }
        if intent.recommended:
            suggestion["isRecommended"] = True
        return suggestion

    # --- resources ---------------------------------------------------------------------

    def _context(self, resource: dict[str, Any]) -> dict[str, Any]:
        resource["subject"] = {"reference": f"Patient/{self.patient_id}"}
        if self.encounter_id:
            resource["encounter"] = {"reference": f"Encounter/{self.encounter_id}"}
        resource["authoredOn"] = self.today.isoformat()
        if self.user_id and self.user_id.split("/")[0] in ("Practitioner", "PractitionerRole"):
            resource["requester"] = {"reference": self.user_id}
        return resource

    def injection_order(self, interval_days: int | None, doses: int | None) -> dict[str, Any]:
        dosage = _injection_dosage(interval_days, doses)
        resource = self._context(
            {
                "resourceType": "MedicationRequest",
                "status": "draft",
                "intent": "proposal",
                "medicationCodeableConcept": HYDROXOCOBALAMIN_1MG_ML,
                "dosageInstruction": [dosage],
            }
        )
        return self._template(MedicationRequest, resource, ("injection", interval_days, doses))

    def lab_order(self, analyte: Analyte) -> dict[str, Any]:
        code, display = LAB_ORDERS[analyte]
        resource = self._context(
            {
                "resourceType": "ServiceRequest",
                "status": "draft",
                "intent": "proposal",
                "category": [
                    {
                        "coding": [
                            {
                                "system": SNOMED,
                                "code": "108252007",
                                "display": "Laboratory procedure",
                            }
                        ]
                    }
                ],
                "code": {
                    "coding": [{"system": LOINC, "code": code, "display": display}],
                    "text": display,
                },
            }
        )
        return self._template(ServiceRequest, resource, ("lab", analyte))

    def _template(
        self, model: Any, resource: dict[str, Any], variant: tuple[Any, ...]
    ) -> dict[str, Any]:
        """`resource` (built from a template) as emitted, validated once per variant."""
        key = (*variant, "encounter" in resource, "requester" in resource)
        if self._plain_context and key in _VALIDATED_VARIANTS:
            pruned: dict[str, Any] = _pruned(resource)
            return pruned
        valid = _valid(model, resource, canonical=True)  # raises ValidationError
        if self._plain_context and len(_VALIDATED_VARIANTS) < _MAX_VARIANTS:
            _VALIDATED_VARIANTS.add(key)
        return valid

    def _updated(self, ref: str, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        original = self.resources[ref]
        resource = _repair(copy.deepcopy(dict(original)))
        change(resource)
        return _valid(MedicationRequest, resource)

    def _change(
        self, ref: str, label: str, change: Callable[[dict[str, Any]], None]
    ) -> list[dict[str, Any]] | None:
        """An order changed as `change` says, in the one shape the client can apply whole or
        in part: an update in place; else (a client that cannot update orders) a new draft
        created first and the old draft deleted after it; an order in the record, never."""
        if ref not in self.resources:
            return None
        resource = self._updated(ref, change)
        if self.update_orders:
            return [{"type": "update", "description": label, "resource": resource}]
        if ref not in self.drafts or not _RESOURCE_ID.fullmatch(ref):
            return None
        resource.pop("id", None)
        return [
            {"type": "create", "description": f"{label} (a new draft order)", "resource": resource},
            {"type": "delete", "description": "Remove the draft it replaces", "resourceId": ref},
        ]

    # --- intents -----------------------------------------------------------------------

    def _propose_injection(self, intent: ProposeB12Injection) -> list[dict[str, Any]]:
        resource = self.injection_order(intent.interval_days, intent.doses)
        return [{"type": "create", "description": intent.label, "resource": resource}]

    def _propose_labs(self, intent: ProposeLabTests) -> list[dict[str, Any]]:
        return [
            {
                "type": "create",
                "description": f"Order {LAB_WORDS[a]}",
                "resource": self.lab_order(a),
            }
            for a in intent.analytes
            if a in LAB_ORDERS
        ]

    def _change_interval(self, intent: ChangeOrderInterval) -> list[dict[str, Any]] | None:
        def change(resource: dict[str, Any]) -> None:
            dosage = _first_dosage(resource)
            timing = dosage.setdefault("timing", {})
            timing["repeat"] = {
                **_keep_bounds(timing.get("repeat")),
                **_repeat(intent.interval_days),
            }
            timing.pop("code", None)
            dosage["text"] = f"1 mg intramuscularly every {interval_text(intent.interval_days)}"

        return self._change(intent.order_ref, intent.label, change)

    def _change_dose(self, intent: ChangeOralDose) -> list[dict[str, Any]] | None:
        def change(resource: dict[str, Any]) -> None:
            dosage = _first_dosage(resource)
            dosage["doseAndRate"] = [
                {
                    "doseQuantity": {
                        "value": intent.dose_mg,
                        "unit": "mg",
                        "system": UCUM,
                        "code": "mg",
                    }
                }
            ]
            dosage["timing"] = {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}}
            dosage["text"] = f"{intent.dose_mg:g} mg by mouth once daily"

        return self._change(intent.order_ref, intent.label, change)

    def _remove(self, intent: RemoveDraft) -> list[dict[str, Any]] | None:
        if not _RESOURCE_ID.fullmatch(intent.order_ref):
            return None
        return [{"type": "delete", "description": intent.label, "resourceId": intent.order_ref}]

    def _replace(self, intent: ReplaceWithB12Injection) -> list[dict[str, Any]] | None:
        """The oral draft becomes hydroxocobalamin IM: one update in place, so a client that
        applies the first action only has swapped, not deleted. Without the draft to echo
        (or an update), the IM order is created first and the oral draft deleted after it."""

        def change(resource: dict[str, Any]) -> None:
            referenced = resource.pop("medicationReference", None)
            resource.pop("medication", None)
            local = referenced.get("reference") if isinstance(referenced, dict) else None
            contained = [
                c
                for c in resource.get("contained") or []
                if not (isinstance(c, dict) and f"#{c.get('id')}" == local)
            ]
            if contained:
                resource["contained"] = contained
            else:
                resource.pop("contained", None)
            resource["medicationCodeableConcept"] = copy.deepcopy(HYDROXOCOBALAMIN_1MG_ML)
            resource["dosageInstruction"] = [_injection_dosage(intent.interval_days, None)]
            resource.pop("dispenseRequest", None)  # sized for the oral product

        swapped = None
        if self.update_orders and intent.order_ref in self.resources:
            try:
                swapped = self._change(intent.order_ref, intent.label, change)
            except (ValidationError, TypeError, ValueError, AttributeError):
                swapped = None  # a draft we cannot make valid: create and delete instead
        if swapped is not None:
            return swapped
        if not _RESOURCE_ID.fullmatch(intent.order_ref):
            return None
        return [
            {
                "type": "create",
                "description": f"Order hydroxocobalamin 1 mg IM every {interval_text(intent.interval_days)}",
                "resource": self.injection_order(intent.interval_days, None),
            },
            {
                "type": "delete",
                "description": "Remove the oral B12 order",
                "resourceId": intent.order_ref,
            },
        ]


def _injection_dosage(interval_days: int | None, doses: int | None) -> dict[str, Any]:
    dosage: dict[str, Any] = {
        "route": INTRAMUSCULAR,
        "doseAndRate": [{"doseQuantity": ONE_MG}],
    }
    if interval_days:
        dosage["timing"] = {"repeat": _repeat(interval_days)}
        dosage["text"] = f"1 mg intramuscularly every {interval_text(interval_days)}"
    elif doses == 1:
        dosage["timing"] = {"repeat": {"count": 1}}
        dosage["text"] = "1 mg intramuscularly, single dose now"
    else:
        dosage["text"] = "1 mg intramuscularly; schedule as per prescriber"
    return dosage


def _first_dosage(resource: dict[str, Any]) -> dict[str, Any]:
    dosages = resource.get("dosageInstruction")
    if not isinstance(dosages, list) or not dosages or not isinstance(dosages[0], dict):
        dosages = [{}]
        resource["dosageInstruction"] = dosages
    first: dict[str, Any] = dosages[0]
    return first


def _keep_bounds(repeat: Any) -> dict[str, Any]:
    if not isinstance(repeat, dict):
        return {}
    return {k: v for k, v in repeat.items() if k.startswith("bounds")}


def _repair(resource: dict[str, Any]) -> dict[str, Any]:
    """Mend the non-R4 shapes real EHR draft orders arrive in (clients.md quirk 5)."""
    category = resource.get("category")
    if isinstance(category, dict):
        resource["category"] = [category]
    resource.setdefault("intent", "order")
    resource.setdefault("status", "draft")
    return resource


def _valid(model: Any, resource: dict[str, Any], *, canonical: bool = False) -> dict[str, Any]:
    """`resource` validated by `model` (raises ValidationError); `canonical`: built from our
    templates, so it is returned as validated instead of re-serialised."""
    pruned: dict[str, Any] = _pruned(resource)
    validated = model.model_validate(pruned)
    if canonical:
        return pruned
    out: dict[str, Any] = _pruned(validated.model_dump(mode="json", exclude_none=True))
    return out


def _pruned(value: Any) -> Any:
    """Without empty objects, lists and strings (a draft's `{"reference": null}` leaves `{}`)."""
    if isinstance(value, dict):
        kept = {k: _pruned(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in ({}, [], "")}
    if isinstance(value, list):
        items = [_pruned(v) for v in value]
        return [v for v in items if v not in ({}, [], "")]
    return value
