"""Resources built from our own templates are emitted as built, after fhir.resources has
validated them, without the model's serialisation. That is only right if every variant
is already exactly what the validated model would serialise: checked here, variant by
variant (context present or absent, every lab order, every interval the rules use)."""

from __future__ import annotations

from datetime import date
from itertools import product
from typing import Any

import pytest
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.servicerequest import ServiceRequest

from cds_service.cards.suggestions import LAB_ORDERS, SuggestionWriter, _pruned

CONTEXTS = list(
    product(
        ("pat-1", "A1.b-2"),
        (None, "enc-9"),
        (None, "Practitioner/p1", "PractitionerRole/r1", "Patient/pat-1"),
    )
)
INTERVALS = (None, 7, 14, 28, 30, 42, 56, 60, 61, 84, 90, 91, 182)


def writer(patient: str, encounter: str | None, user: str | None) -> SuggestionWriter:
    return SuggestionWriter(patient, date(2026, 11, 25), {}, encounter, user)


def canonical(model: Any, resource: dict[str, Any]) -> dict[str, Any]:
    dumped: dict[str, Any] = _pruned(
        model.model_validate(resource).model_dump(mode="json", exclude_none=True)
    )
    return dumped


@pytest.mark.parametrize(("patient", "encounter", "user"), CONTEXTS)
def test_every_lab_order_is_emitted_in_canonical_form(
    patient: str, encounter: str | None, user: str | None
) -> None:
    for analyte in LAB_ORDERS:
        built = writer(patient, encounter, user).lab_order(analyte)
        assert built == canonical(ServiceRequest, built)


@pytest.mark.parametrize(("patient", "encounter", "user"), CONTEXTS)
def test_every_injection_order_is_emitted_in_canonical_form(
    patient: str, encounter: str | None, user: str | None
) -> None:
    for interval, doses in product(INTERVALS, (None, 1, 3)):
        built = writer(patient, encounter, user).injection_order(interval, doses)
        assert built == canonical(MedicationRequest, built)


def test_a_template_that_the_model_would_rewrite_is_caught() -> None:
    """The check above can fail: a decimal written as a string is not canonical JSON."""
    built = writer("pat-1", None, None).injection_order(90, None)
    built["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"] = "1"
    assert built != canonical(MedicationRequest, built)
