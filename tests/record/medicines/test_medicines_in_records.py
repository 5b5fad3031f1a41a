"""Medicines as the reader sees them in real resources: codes, Medication resources, names,
doses, and what counts as B12 therapy (the issue's reported cases first)."""

from __future__ import annotations

from typing import Any

import pytest

from cds_service.policy import Policy, load_policy
from cds_service.record import read_orders, read_record
from cds_service.record.index import index_for
from cds_service.record.medicines.model import Basis, Route, Substance
from cds_service.record.model import Agent, MedicationUse, PatientRecord, Source

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
POLICY = load_policy()


def request(medication: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": fields.pop("ident", "mr1"),
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/p1"},
        "authoredOn": "2026-11-01",
    }
    if medication is not None:
        resource["medicationCodeableConcept"] = medication
    resource.update(fields)
    return resource


def coded(code: str, display: str | None = None, text: str | None = None) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": RXNORM, "code": code}
    if display:
        coding["display"] = display
    concept: dict[str, Any] = {"coding": [coding]}
    if text:
        concept["text"] = text
    return concept


def read(*resources: Any, policy: Policy = POLICY) -> PatientRecord:
    return read_record("p1", list(resources), policy)


def only(record: PatientRecord) -> MedicationUse:
    assert len(record.medications) == 1, record.medications
    return record.medications[0]


def daily(dose: dict[str, Any], per_day: int = 1) -> list[dict[str, Any]]:
    return [
        {
            "timing": {"repeat": {"frequency": per_day, "period": 1, "periodUnit": "d"}},
            "doseAndRate": [{"doseQuantity": dose}],
        }
    ]


# --- the cases the issue reports ----------------------------------------------------------------


def test_the_sandbox_vitamin_b_12_tablet_is_b12_at_1_mg_a_day() -> None:
    """RxNorm 211965 is an older code the table does not hold: the name decides."""
    medication = coded("211965", "Vitamin B 12 1 MG Oral Tablet [B-12 Resin]")
    medication["text"] = "Vitamin B 12 1 MG Oral Tablet [B-12 Resin]"
    record = read(
        request(medication, dosageInstruction=daily({"value": 1, "code": "{pill}", "system": UCUM}))
    )
    use = only(record)
    assert use.agents == {Agent.B12}
    assert (use.route, use.b12_dose_mg, use.b12_daily_mg) == (Route.ORAL, 1.0, 1.0)
    assert use.name == "Vitamin B 12 1 MG Oral Tablet [B-12 Resin]"
    assert any("name only" in g.message for g in record.gaps_about("b12"))


@pytest.mark.parametrize(
    "text",
    [
        "iron polysaccharide complex 150 mg with folic acid 1 mg capsule",
        "Ferrous fumarate with folic acid",
        "prenatal multivitamin with folic acid 1 mg",
    ],
)
def test_a_combination_named_with_folic_acid_is_a_folic_acid_order(text: str) -> None:
    assert Agent.FOLIC_ACID in only(read(request({"text": text}))).agents


def test_a_50_microgram_multivitamin_b12_is_not_b12_therapy_but_a_b12_tablet_is() -> None:
    multivitamin = "ascorbic acid 60 MG / folic acid 0.8 MG / vitamin B12 0.006 MG Oral Tablet"
    assert only(read(request({"text": multivitamin}))).agents == {Agent.FOLIC_ACID}
    tablet = only(read(request(coded("105686"))))  # vitamin B12 0.05 MG Oral Tablet
    assert tablet.agents == {Agent.B12}
    assert tablet.b12_dose_mg == 0.05 and tablet.dose_basis is Basis.ASSUMED  # one tablet a day


@pytest.mark.parametrize(
    ("medication", "dosage"),
    [
        (
            coded("5514", "hydroxocobalamin"),
            [
                {
                    "doseAndRate": [{"doseQuantity": {"value": 5, "unit": "g"}}],
                    "route": {"text": "Intravenous"},
                }
            ],
        ),
        (
            coded("5514", "hydroxocobalamin"),
            [{"doseAndRate": [{"doseQuantity": {"value": 5000, "unit": "mg"}}]}],
        ),
        (coded("700499"), None),  # hydroxocobalamin 5000 MG Injection [Cyanokit]
        (
            {"coding": [{"system": ATC, "code": "B03BA03"}], "text": "Hydroxocobalamin"},
            [
                {
                    "route": {
                        "coding": [
                            {"system": SNOMED, "code": "47625008", "display": "Intravenous route"}
                        ]
                    }
                }
            ],
        ),
    ],
)
def test_the_cyanide_antidote_coded_by_its_ingredient_is_not_b12_therapy(
    medication: dict[str, Any], dosage: list[dict[str, Any]] | None
) -> None:
    fields = {"dosageInstruction": dosage} if dosage else {}
    record = read(request(medication, **fields))
    assert record.medications == ()
    assert any("not counted as B12 therapy" in g.message for g in record.gaps_about("b12"))


# --- codes and Medication resources ------------------------------------------------------------


def test_a_substance_code_takes_strength_and_form_from_a_name_that_agrees() -> None:
    use = only(read(request(coded("11248", "vitamin B12 1000 MCG Oral Tablet"))))
    assert use.product.basis is Basis.NAME and use.product.code == f"{RXNORM}|11248"
    assert (use.route, use.b12_dose_mg) == (Route.ORAL, 1.0)


def test_a_medication_resource_with_ingredient_strengths_is_read_structurally() -> None:
    medication = {
        "resourceType": "Medication",
        "id": "m1",
        "code": {"text": "Compounded B12 injection"},
        "form": {
            "coding": [{"system": SNOMED, "code": "385219001", "display": "Solution for injection"}]
        },
        "ingredient": [
            {
                "itemCodeableConcept": coded("5514", "hydroxocobalamin"),
                "strength": {
                    "numerator": {"value": 1000, "unit": "mcg", "system": UCUM, "code": "ug"},
                    "denominator": {"value": 1, "unit": "mL", "system": UCUM, "code": "mL"},
                },
            }
        ],
    }
    order = request(
        None,
        medicationReference={"reference": "Medication/m1"},
        dosageInstruction=[{"doseAndRate": [{"doseQuantity": {"value": 1, "unit": "mL"}}]}],
    )
    use = only(read(order, medication))
    assert use.product.basis is Basis.CODE
    assert (use.route, use.b12_dose_mg, use.product.dose_form) == (
        Route.INJECTION,
        1.0,
        "Injectable Solution",
    )


def test_an_scdc_component_code_in_a_medication_ingredient_gives_its_strength() -> None:
    medication = {
        "resourceType": "Medication",
        "id": "m2",
        "ingredient": [{"itemCodeableConcept": coded("315739", "vitamin B12 1 MG")}],
        "form": {"text": "Sublingual tablet"},
    }
    order = request(None, medicationReference={"reference": "#m2"}, contained=[medication])
    use = only(read(order))
    assert (use.route, use.b12_dose_mg) == (Route.SUBLINGUAL, 1.0)


def test_a_code_that_disagrees_with_its_text_uses_the_code_and_says_so() -> None:
    record = read(
        request(coded("310410", "folic acid 1 MG Oral Tablet", "Vitamin B12 1 mg tablet"))
    )
    use = only(record)
    assert use.agents == {Agent.FOLIC_ACID}  # the code's substance
    conflicts = [g.message for g in record.gaps_about("folic-acid") if "code was used" in g.message]
    assert conflicts and "RxNorm 310410 is folic acid" in conflicts[0]


@pytest.mark.parametrize(
    ("text", "substance"),
    [
        ("Neo-Cytamen 1mg/1ml solution for injection ampoules", Substance.HYDROXOCOBALAMIN),
        ("Janumet tablets", Substance.METFORMIN),
        ("Glucophage 500mg", Substance.METFORMIN),
    ],
)
def test_a_brand_alone_names_its_substances(text: str, substance: Substance) -> None:
    product = index_for(POLICY).medicines.classify({"text": text})
    assert product is not None and substance in product.substances


def test_classification_is_cached_by_codes_and_words() -> None:
    classifier = index_for(POLICY).medicines
    first = classifier.classify(coded("309593", "vitamin B12 1 MG Oral Tablet"))
    again = classifier.classify(coded("309593", "vitamin B12 1 MG Oral Tablet"))
    assert first is again


# --- dose and route -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "dose", "per_day", "expected"),
    [
        ("309593", {"value": 2, "code": "{pill}", "system": UCUM}, 1, (2.0, 2.0)),  # 1 MG tab x2
        ("309593", {"value": 1, "code": "{pill}", "system": UCUM}, 2, (1.0, 2.0)),  # twice daily
        ("105686", {"value": 1, "code": "{pill}", "system": UCUM}, 1, (0.05, 0.05)),
        ("1423423", {"value": 2, "unit": "mL"}, 1, (2.0, 2.0)),  # 1 MG/ML oral solution
        ("309594", {"value": 1, "unit": "mL"}, 1, (1.0, 1.0)),  # 1 MG/ML injection, daily
        ("309594", {"value": 1000, "unit": "mcg"}, 1, (1.0, 1.0)),
    ],
)
def test_dose_per_administration_and_per_day(
    code: str, dose: dict[str, Any], per_day: int, expected: tuple[float, float | None]
) -> None:
    use = only(read(request(coded(code), dosageInstruction=daily(dose, per_day))))
    assert (use.b12_dose_mg, use.b12_daily_mg) == expected


def test_a_mass_dose_of_a_combination_names_its_main_ingredient_not_the_b12() -> None:
    combo = "betaine 25 MG / folic acid 5 MG / mecobalamin 1 MG / pyridoxine 100 MG Oral Capsule"
    use = only(read(request({"text": combo}, dosageInstruction=daily({"value": 5, "unit": "mg"}))))
    assert use.agents == {Agent.B12, Agent.FOLIC_ACID}
    assert use.b12_dose_mg is None  # 5 mg is the folic acid dose


def test_the_dosage_route_wins_over_the_dose_form() -> None:
    use = only(
        read(request(coded("309594"), dosageInstruction=[{"route": {"text": "deep subcutaneous"}}]))
    )
    assert use.route is Route.INJECTION


def test_draft_order_gaps_reach_the_orders() -> None:
    bundle = {
        "resourceType": "Bundle",
        "entry": [{"resource": request({"text": "cyanocobalamin tablets"}, status="draft")}],
    }
    orders = read_orders(bundle, None, POLICY)
    messages = [g.message for g in orders.gaps_about("b12")]
    assert any("name only" in m for m in messages) and any(
        "strength not stated" in m for m in messages
    )


def test_an_administration_is_a_source_with_its_given_dose() -> None:
    given = {
        "resourceType": "MedicationAdministration",
        "id": "a1",
        "status": "completed",
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2026-10-01",
        "medicationCodeableConcept": coded("317106"),
        "dosage": {"dose": {"value": 1, "unit": "mL"}},
    }
    use = only(read(given))
    assert (use.source, use.b12_dose_mg, use.b12_daily_mg) == (Source.ADMINISTRATION, 1.0, None)
