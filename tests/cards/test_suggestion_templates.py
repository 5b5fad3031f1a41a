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

from cds_service.cards import suggestions
from cds_service.cards.suggestions import LAB_ORDERS, SuggestionWriter, _pruned
from cds_service.record.model import Analyte

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


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts the models' validations, starting with no variant known."""
    monkeypatch.setattr(suggestions, "_VALIDATED_VARIANTS", set())
    calls: list[str] = []
    for model in (ServiceRequest, MedicationRequest):
        original = model.model_validate

        def counted(value: Any, *, _model: Any = model, _original: Any = original) -> Any:
            calls.append(_model.__name__)
            return _original(value)

        monkeypatch.setattr(model, "model_validate", counted)
    return calls


def test_a_variant_is_validated_once_and_later_resources_are_the_same(
    validations: list[str],
) -> None:
    first = writer("pat-1", "enc-9", "Practitioner/p1").lab_order(Analyte.B12)
    again = writer("pat-2", "enc-3", "Practitioner/p7").lab_order(Analyte.B12)
    assert validations == ["ServiceRequest"]
    assert again == canonical(ServiceRequest, again)
    assert again["subject"] == {"reference": "Patient/pat-2"}
    assert first["subject"] == {"reference": "Patient/pat-1"}


def test_each_variant_is_validated_on_its_own(validations: list[str]) -> None:
    writer("pat-1", None, None).lab_order(Analyte.B12)
    writer("pat-1", "enc-9", None).lab_order(Analyte.B12)  # an encounter: another shape
    writer("pat-1", None, None).lab_order(Analyte.FOLATE)
    writer("pat-1", None, None).injection_order(90, None)
    writer("pat-1", None, None).injection_order(60, None)
    writer("pat-1", None, None).injection_order(60, None)
    assert validations == ["ServiceRequest"] * 3 + ["MedicationRequest"] * 2


@pytest.mark.parametrize(
    ("patient", "encounter", "user"),
    [("pat 1", None, None), ("pat-1", "enc/9", None), ("pat-1", None, "Practitioner/p 1")],
)
def test_per_call_values_that_are_not_plain_ids_are_validated_every_time(
    validations: list[str], patient: str, encounter: str | None, user: str | None
) -> None:
    # the same variant with plain ids first, so it is known
    writer("pat-1", encounter and "enc-9", user and "Practitioner/p1").lab_order(Analyte.B12)
    for _ in range(3):
        writer(patient, encounter, user).lab_order(Analyte.B12)
    assert validations == ["ServiceRequest"] * 4


def test_a_variant_the_model_rejected_is_not_remembered(
    validations: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def reject(value: Any) -> Any:
        raise ValueError("rejected")

    with monkeypatch.context() as patch:
        patch.setattr(ServiceRequest, "model_validate", reject)
        with pytest.raises(ValueError, match="rejected"):
            writer("pat-1", None, None).lab_order(Analyte.B12)
    writer("pat-1", None, None).lab_order(Analyte.B12)
    writer("pat-1", None, None).lab_order(Analyte.B12)
    assert validations == ["ServiceRequest"]
