"""Medication resources -> B12 / folic acid / metformin / PPI exposure with route, dose, interval."""

from __future__ import annotations

from typing import Any

import pytest
from record_builders import (
    B12_INGREDIENT,
    B12_ORAL_1MG,
    CYANOKIT,
    FOLIC_ACID_1MG,
    HYDROXO_INJ,
    METFORMIN_500,
    PATIENT,
    RXNORM,
    SNOMED,
    administration,
    concept,
    med_request,
    repeat,
    subject,
)

from cds_service.policy import Policy
from cds_service.record import read_record
from cds_service.record.model import Agent, MedicationUse, PatientRecord, Route, Source


def read(policy: Policy, *resources: Any) -> PatientRecord:
    return read_record(PATIENT, list(resources), policy)


def only_med(record: PatientRecord) -> MedicationUse:
    assert len(record.medications) == 1, record
    return record.medications[0]


def hydroxo_medication(ident: str = "med1") -> dict[str, Any]:
    return {
        "resourceType": "Medication",
        "id": ident,
        "code": concept(RXNORM, HYDROXO_INJ, "hydroxocobalamin 1 MG/ML Injectable Solution"),
    }


# --- which drug ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rxnorm", "agent"),
    [
        (HYDROXO_INJ, Agent.B12),
        (B12_ORAL_1MG, Agent.B12),
        (B12_INGREDIENT, Agent.B12),
        (FOLIC_ACID_1MG, Agent.FOLIC_ACID),
        (METFORMIN_500, Agent.METFORMIN),
    ],
)
def test_the_agent_is_recognised_by_code(policy: Policy, rxnorm: str, agent: Agent) -> None:
    use = only_med(read(policy, med_request(rxnorm=rxnorm)))
    assert use.agent is agent and not use.matched_by_text


@pytest.mark.parametrize("rxnorm", [CYANOKIT, "6313"])  # cyanide antidote; leucovorin
def test_excluded_products_never_count_even_if_their_name_says_b12_or_folate(
    policy: Policy, rxnorm: str
) -> None:
    resource = med_request(rxnorm=rxnorm)
    resource["medicationCodeableConcept"]["text"] = "hydroxocobalamin / folic acid"
    assert read(policy, resource).medications == ()


def test_unrelated_drugs_are_ignored(policy: Policy) -> None:
    resource = med_request(rxnorm="197361")  # amlodipine
    resource["medicationCodeableConcept"]["text"] = "amlodipine 5 mg tablet"
    record = read(policy, resource)
    assert record.medications == () and record.gaps == ()


def test_a_reference_to_a_contained_medication_is_followed(policy: Policy) -> None:
    resource = med_request(rxnorm=None, medicationReference={"reference": "#m1"})
    resource["contained"] = [hydroxo_medication("m1")]
    use = only_med(read(policy, resource))
    assert (use.agent, use.route, use.name) == (
        Agent.B12,
        Route.INJECTION,
        "hydroxocobalamin 1 MG/ML Injectable Solution",
    )


@pytest.mark.parametrize("ref", ["Medication/med1", "https://fhir.example.org/r4/Medication/med1"])
def test_a_reference_to_an_included_medication_is_followed_whatever_the_order(
    policy: Policy, ref: str
) -> None:
    request = med_request(rxnorm=None, medicationReference={"reference": ref})
    for resources in ([request, hydroxo_medication()], [hydroxo_medication(), request]):
        assert only_med(read(policy, *resources)).agent is Agent.B12


def test_a_medication_is_recognised_by_its_ingredient(policy: Policy) -> None:
    medication = {
        "resourceType": "Medication",
        "id": "med1",
        "code": {"text": "Compounded product"},
        "ingredient": [{"itemCodeableConcept": concept(RXNORM, "4511")}],  # folic acid IN
    }
    request = med_request(rxnorm=None, medicationReference={"reference": "Medication/med1"})
    assert only_med(read(policy, request, medication)).agent is Agent.FOLIC_ACID


def test_an_unresolvable_reference_falls_back_to_nothing_without_error(policy: Policy) -> None:
    request = med_request(rxnorm=None, medicationReference={"reference": "Medication/missing"})
    assert read(policy, request).medications == ()


@pytest.mark.parametrize(
    ("name", "agent"),
    [
        ("Hydroxocobalamin 1mg/1ml ampoule", Agent.B12),
        ("Folic acid 5mg tablets", Agent.FOLIC_ACID),
        ("Metformin MR 500mg", Agent.METFORMIN),
        ("omeprazole 20mg", Agent.PPI),
    ],
)
def test_an_uncoded_drug_is_recognised_by_name_and_flagged(
    policy: Policy, name: str, agent: Agent
) -> None:
    record = read(policy, med_request(rxnorm=None, medicationCodeableConcept={"text": name}))
    use = only_med(record)
    assert use.agent is agent and use.matched_by_text
    assert any("name only" in g.message for g in record.gaps_about(agent.value))


@pytest.mark.parametrize(
    "name", ["Folinic acid 15mg", "Leucovorin calcium 15 mg tablet", "L-methylfolate 15 mg"]
)
def test_folate_analogues_named_in_words_are_not_folic_acid(policy: Policy, name: str) -> None:
    record = read(policy, med_request(rxnorm=None, medicationCodeableConcept={"text": name}))
    assert record.medications == ()


@pytest.mark.parametrize("name", ["Cyanokit 5 g", "Hydroxocobalamin 5 g IV infusion"])
def test_the_cyanide_antidote_named_in_words_is_not_b12_therapy(policy: Policy, name: str) -> None:
    record = read(policy, med_request(rxnorm=None, medicationCodeableConcept={"text": name}))
    assert record.medications == ()
    assert any("not counted as B12 therapy" in g.message for g in record.gaps_about("b12"))


@pytest.mark.parametrize(
    "name", ["Multivitamin with folic acid", "Ferrous sulfate 200 mg with folic acid 350 mcg"]
)
def test_any_product_containing_folic_acid_is_folic_acid(policy: Policy, name: str) -> None:
    record = read(policy, med_request(rxnorm=None, medicationCodeableConcept={"text": name}))
    assert only_med(record).agents == {Agent.FOLIC_ACID}


def test_entered_in_error_medications_are_dropped(policy: Policy) -> None:
    assert read(policy, med_request(status="entered-in-error")).medications == ()


# --- route -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rxnorm", "dosage", "route"),
    [
        (HYDROXO_INJ, None, Route.INJECTION),
        (B12_ORAL_1MG, None, Route.ORAL),
        (B12_INGREDIENT, {"route": concept(SNOMED, "78421000")}, Route.INJECTION),
        (B12_INGREDIENT, {"route": concept(SNOMED, "26643006")}, Route.ORAL),
        (B12_INGREDIENT, {"route": {"text": "Deep subcutaneous"}}, Route.INJECTION),
        (B12_INGREDIENT, {"route": {"text": "IM"}}, Route.INJECTION),
        (B12_INGREDIENT, {"route": {"text": "PO"}}, Route.ORAL),
        (B12_INGREDIENT, {"route": {"text": "by mouth"}}, Route.ORAL),
        (B12_INGREDIENT, {"route": {"text": "sublingual"}}, Route.SUBLINGUAL),
        (B12_INGREDIENT, {"route": {"text": "intranasal"}}, Route.NASAL),
        (B12_INGREDIENT, {"text": "1 mg IM every 3 months"}, Route.INJECTION),
        (B12_INGREDIENT, {"text": "one tablet daily"}, Route.ORAL),
        (B12_INGREDIENT, None, Route.UNKNOWN),
        ("861113", None, Route.NASAL),  # nasal spray: product name
    ],
)
def test_route_comes_from_product_code_then_route_code_then_text(
    policy: Policy, rxnorm: str, dosage: dict[str, Any] | None, route: Route
) -> None:
    assert only_med(read(policy, med_request(rxnorm=rxnorm, dosage=dosage))).route is route


def test_a_cobalamin_given_intravenously_is_not_b12_maintenance(policy: Policy) -> None:
    dosage = {"route": {"text": "Intravenous"}}
    record = read(policy, med_request(rxnorm=HYDROXO_INJ, dosage=dosage))
    assert record.medications == ()
    assert any("intravenously" in g.message for g in record.gaps_about("b12"))


def test_route_can_come_from_the_medication_dose_form(policy: Policy) -> None:
    medication = {
        "resourceType": "Medication",
        "id": "med1",
        "code": concept(RXNORM, B12_INGREDIENT),
        "form": {"text": "Solution for injection"},
    }
    request = med_request(rxnorm=None, medicationReference={"reference": "Medication/med1"})
    assert only_med(read(policy, request, medication)).route is Route.INJECTION


# --- dose ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rxnorm", "quantity", "dose_mg"),
    [
        (HYDROXO_INJ, {"value": 1, "unit": "mg"}, 1.0),
        (HYDROXO_INJ, {"value": 1000, "unit": "mcg"}, 1.0),
        (HYDROXO_INJ, {"value": 1000, "unit": "µg"}, 1.0),
        (HYDROXO_INJ, {"value": 1000, "code": "ug", "system": "http://unitsofmeasure.org"}, 1.0),
        (HYDROXO_INJ, {"value": 0.001, "unit": "g"}, 1.0),
        (HYDROXO_INJ, {"value": 1, "unit": "mL"}, 1.0),
        (B12_ORAL_1MG, {"value": 1, "unit": "mL"}, None),  # not a 1 mg/mL product
        (B12_ORAL_1MG, {"value": 2, "code": "{pill}"}, 2.0),  # 2 x the 1 MG tablet
        ("105686", {"value": 1, "code": "{pill}"}, 0.05),  # vitamin B12 0.05 MG Oral Tablet
        (HYDROXO_INJ, {"value": 1, "code": "{pill}"}, None),  # a solution has no unit strength
        (HYDROXO_INJ, {"value": 1}, None),
    ],
)
def test_dose_is_read_in_mg(
    policy: Policy, rxnorm: str, quantity: dict[str, Any], dose_mg: float | None
) -> None:
    dosage = {"doseAndRate": [{"doseQuantity": quantity}]}
    assert only_med(read(policy, med_request(rxnorm=rxnorm, dosage=dosage))).b12_dose_mg == dose_mg


def test_an_administration_reads_its_dose_and_route(policy: Policy) -> None:
    given = administration(
        medicationCodeableConcept=concept(RXNORM, B12_INGREDIENT),
        dosage={"dose": {"value": 1000, "unit": "microgram"}, "route": concept(SNOMED, "78421000")},
    )
    use = only_med(read(policy, given))
    assert (use.source, use.b12_dose_mg, use.route, use.was_given) == (
        Source.ADMINISTRATION,
        1.0,
        Route.INJECTION,
        True,
    )
    assert str(use.start) == "2026-02-01"


# --- interval --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "days"),
    [
        ({"frequency": 1, "period": 1, "periodUnit": "d"}, 1.0),
        ({"period": 12, "periodUnit": "wk"}, 84.0),
        ({"frequency": 1, "period": 3, "periodUnit": "mo"}, 91.32),
        ({"period": 1, "periodUnit": "a"}, 365.25),
        ({"period": 2, "periodMax": 3, "periodUnit": "mo"}, 91.32),
        ({"frequency": 2, "period": 1, "periodUnit": "d"}, 0.5),
        ({"frequency": 3, "period": 1, "periodUnit": "wk"}, 2.3333),
        ({"period": 12, "periodUnit": "h"}, 0.5),
    ],
)
def test_interval_is_period_over_frequency_with_period_max_winning(
    policy: Policy, fields: dict[str, Any], days: float
) -> None:
    use = only_med(read(policy, med_request(dosage=repeat(**fields))))
    assert use.interval_days == pytest.approx(days, abs=0.001)
    assert not use.interval_from_text


def test_a_timing_code_is_a_structured_fallback(policy: Policy) -> None:
    dosage = {"timing": {"code": {"coding": [{"code": "BID"}], "text": "twice a day"}}}
    use = only_med(read(policy, med_request(rxnorm=B12_ORAL_1MG, dosage=dosage)))
    assert (use.interval_days, use.interval_from_text) == (0.5, False)


@pytest.mark.parametrize(
    ("dosage", "days"),
    [
        ({"text": "1 mg IM every 3 months"}, 91.32),
        ({"text": "every 12 weeks"}, 84.0),
        ({"text": "every 2-3 months"}, 91.32),
        ({"text": "3-monthly"}, 91.32),
        ({"text": "monthly"}, 30.44),
        ({"text": "weekly"}, 7.0),
        ({"text": "daily"}, 1.0),
        ({"text": "once a day"}, 1.0),
        ({"text": "every other day for 2 weeks"}, 2.0),
        ({"text": "alternate days"}, 2.0),
        ({"text": "q12w"}, 84.0),
        ({"patientInstruction": "Injection every eight weeks"}, 56.0),
        ({"timing": {"code": {"text": "every 3 months"}}}, 91.32),
    ],
)
def test_an_interval_from_free_text_is_a_flagged_guess(
    policy: Policy, dosage: dict[str, Any], days: float
) -> None:
    record = read(policy, med_request(dosage=dosage))
    use = only_med(record)
    assert use.interval_days == pytest.approx(days, abs=0.01)
    assert use.interval_from_text
    assert any("free-text" in g.message for g in record.gaps_about("b12"))


def test_unparseable_directions_leave_the_interval_unknown(policy: Policy) -> None:
    use = only_med(read(policy, med_request(dosage={"text": "as directed"})))
    assert (use.interval_days, use.interval_from_text) == (None, False)


def test_count_and_bounds_describe_a_finite_loading_course(policy: Policy) -> None:
    loading = repeat(
        period=2, periodUnit="d", count=6, boundsDuration={"value": 2, "unit": "wk", "code": "wk"}
    )
    use = only_med(read(policy, med_request(dosage=loading)))
    assert (use.interval_days, use.repeat_count, use.bounds_days) == (2.0, 6, 14.0)
    assert use.is_finite_course


def test_a_bounds_period_gives_its_length_and_the_end(policy: Policy) -> None:
    dosage = repeat(
        period=2, periodUnit="d", boundsPeriod={"start": "2026-01-01", "end": "2026-01-15"}
    )
    use = only_med(read(policy, med_request(dosage=dosage)))
    assert use.bounds_days == 14.0 and str(use.end) == "2026-01-15"


# --- dates, status, order --------------------------------------------------------------------


def test_a_statement_starts_at_its_effective_date_or_else_when_asserted(policy: Policy) -> None:
    base: dict[str, Any] = {
        "resourceType": "MedicationStatement",
        "id": "ms1",
        "status": "Active",
        "subject": subject(),
        "medicationCodeableConcept": concept(RXNORM, METFORMIN_500),
    }
    period = base | {"effectivePeriod": {"start": "2020-01-01", "end": "2030-01-01"}}
    use = only_med(read(policy, period))
    assert (str(use.start), str(use.end), use.status) == ("2020-01-01", "2030-01-01", "active")
    asserted = only_med(read(policy, base | {"dateAsserted": "2021-05-05T10:00:00Z"}))
    assert str(asserted.start) == "2021-05-05"


def test_a_month_only_administration_date_is_kept_and_flagged(policy: Policy) -> None:
    record = read(policy, administration(when="2026-05"))
    assert str(only_med(record).start) == "2026-05"
    assert any("(month only)" in g.message for g in record.gaps_about("b12"))


def test_an_undated_administration_is_kept_with_a_gap(policy: Policy) -> None:
    given = administration()
    del given["effectiveDateTime"]
    record = read(policy, given)
    assert only_med(record).start is None
    assert any("no date" in g.message for g in record.gaps_about("b12"))


def test_the_validity_period_end_ends_a_request(policy: Policy) -> None:
    request = med_request(dispenseRequest={"validityPeriod": {"end": "2026-06-30"}})
    assert str(only_med(read(policy, request)).end) == "2026-06-30"


def test_medications_come_out_newest_start_first(policy: Policy) -> None:
    record = read(
        policy,
        administration(ident="a", when="2025-11-01"),
        administration(ident="b", when="2026-02-01"),
        med_request(ident="c", authored="2024-01-01"),
        administration(ident="d", when="2026-01"),
    )
    assert [m.ref for m in record.medications] == [
        "MedicationAdministration/b",
        "MedicationAdministration/d",
        "MedicationAdministration/a",
        "MedicationRequest/c",
    ]


def test_the_original_resource_is_kept_as_raw_without_copying(policy: Policy) -> None:
    request = med_request()
    use = only_med(read(policy, request))
    assert use.raw is request
    assert (use.status, use.intent) == ("active", "order")
