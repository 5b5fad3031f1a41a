"""`context.draftOrders` -> DraftOrders, as the CDS Hooks sandbox and real EHRs send them."""

from __future__ import annotations

from typing import Any

import pytest
from record_builders import B12_ORAL_1MG, FOLIC_ACID_1MG, HYDROXO_INJ, RXNORM, concept, med_request

from cds_service.policy import Policy
from cds_service.record import read_orders
from cds_service.record.model import Agent, Route


def sandbox_draft(**extra: Any) -> dict[str, Any]:
    """The sandbox's order: no Bundle.type, no fullUrl, category an object, dose in {pill}."""
    resource: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": "request-123",
        "status": "draft",
        "subject": {"reference": "Patient/p1"},
        "authoredOn": "2026-11-20",
    }
    resource.update(extra)
    return {"resourceType": "Bundle", "entry": [{"resource": resource}]}


def test_the_first_order_select_call_without_a_drug_gives_a_draft_with_no_medication(
    policy: Policy,
) -> None:
    orders = read_orders(sandbox_draft(), ["MedicationRequest/request-123"], policy)
    (draft,) = orders.drafts
    assert (draft.ref, draft.status, draft.intent, draft.selected, draft.medication) == (
        "MedicationRequest/request-123",
        "draft",
        None,
        True,
        None,
    )


def test_a_sandbox_order_with_a_drug_is_read_despite_not_being_valid_r4(policy: Policy) -> None:
    bundle = sandbox_draft(
        intent="order",
        category={"coding": [{"code": "outpatient"}]},
        medicationCodeableConcept=concept(RXNORM, FOLIC_ACID_1MG, "Folic Acid 1 MG Oral Tablet")
        | {"text": "Folic Acid 1 MG Oral Tablet"},
        dosageInstruction=[
            {
                "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
                "doseAndRate": [
                    {
                        "doseQuantity": {
                            "value": 1,
                            "system": "http://unitsofmeasure.org",
                            "code": "{pill}",
                        }
                    }
                ],
            }
        ],
        dispenseRequest={"expectedSupplyDuration": {"value": 30, "unit": "days"}},
    )
    (draft,) = read_orders(bundle, None, policy).drafts
    assert draft.medication is not None
    assert draft.medication.agents == {Agent.FOLIC_ACID}
    (folic,) = draft.medication.product.ingredients
    assert (draft.medication.interval_days, folic.strength and folic.strength.mg) == (1.0, 1.0)
    assert draft.medication.product.conflict is None
    assert draft.medication.status == "draft"
    assert draft.raw is bundle["entry"][0]["resource"]


def test_on_order_sign_every_order_is_selected(policy: Policy) -> None:
    bundle = {
        "resourceType": "Bundle",
        "entry": [
            {"resource": med_request(ident="a", rxnorm=HYDROXO_INJ, status="draft")},
            {"resource": med_request(ident="b", rxnorm=FOLIC_ACID_1MG, status="draft")},
        ],
    }
    orders = read_orders(bundle, None, policy)
    assert [d.selected for d in orders.drafts] == [True, True]
    assert len(orders.with_agent(Agent.B12)) == 1


@pytest.mark.parametrize(
    ("selections", "selected"),
    [
        (["MedicationRequest/b"], [False, True, False]),
        (["MedicationRequest/a", "ServiceRequest/s"], [True, False, True]),
        ([], [False, False, False]),
        (["https://ehr.example.org/fhir/MedicationRequest/a"], [True, False, False]),
    ],
)
def test_on_order_select_only_the_selections_are_in_focus(
    policy: Policy, selections: list[str], selected: list[bool]
) -> None:
    bundle = {
        "resourceType": "Bundle",
        "entry": [
            {"resource": med_request(ident="a", rxnorm=HYDROXO_INJ, status="draft")},
            {"resource": med_request(ident="b", rxnorm=B12_ORAL_1MG, status="draft")},
            {"resource": {"resourceType": "ServiceRequest", "id": "s", "status": "draft"}},
        ],
    }
    orders = read_orders(bundle, selections, policy)
    assert [d.selected for d in orders.drafts] == selected
    assert [d.ref for d in orders.focus] == [
        d.ref for d, s in zip(orders.drafts, selected, strict=True) if s
    ]


def test_other_request_types_are_drafts_without_a_medication(policy: Policy) -> None:
    bundle = {
        "resourceType": "Bundle",
        "entry": [
            {
                "resource": {
                    "resourceType": "ServiceRequest",
                    "id": "s1",
                    "status": "draft",
                    "intent": "order",
                }
            },
            {"resource": {"resourceType": "NutritionOrder", "id": "n1", "status": "draft"}},
        ],
    }
    drafts = read_orders(bundle, None, policy).drafts
    assert [(d.ref, d.resource_type, d.medication) for d in drafts] == [
        ("ServiceRequest/s1", "ServiceRequest", None),
        ("NutritionOrder/n1", "NutritionOrder", None),
    ]


def test_entries_without_an_id_get_a_positional_ref(policy: Policy) -> None:
    request = med_request(rxnorm=HYDROXO_INJ, status="draft")
    del request["id"]
    bundle = {
        "entry": [
            {"resource": {"resourceType": "ServiceRequest", "id": "s1"}},
            {"resource": request},
        ]
    }
    drafts = read_orders(bundle, ["MedicationRequest/#1"], policy).drafts
    assert [d.ref for d in drafts] == ["ServiceRequest/s1", "MedicationRequest/#1"]
    assert [d.selected for d in drafts] == [False, True]


def test_a_draft_referencing_a_medication_in_the_same_bundle_or_contained_is_resolved(
    policy: Policy,
) -> None:
    medication = {"resourceType": "Medication", "id": "m", "code": concept(RXNORM, HYDROXO_INJ)}
    included = med_request(
        ident="a", rxnorm=None, medicationReference={"reference": "Medication/m"}
    )
    contained = med_request(ident="b", rxnorm=None, medicationReference={"reference": "#m"})
    contained["contained"] = [medication]
    bundle = {
        "resourceType": "Bundle",
        "entry": [{"resource": included}, {"resource": medication}, {"resource": contained}],
    }
    drafts = read_orders(bundle, None, policy).drafts
    assert [d.ref for d in drafts] == ["MedicationRequest/a", "MedicationRequest/b"]
    assert all(d.medication is not None and d.medication.route is Route.INJECTION for d in drafts)


def test_a_stop_of_a_b12_order_on_order_sign_is_visible(policy: Policy) -> None:
    bundle = {"entry": [{"resource": med_request(status="stopped")}]}
    (draft,) = read_orders(bundle, None, policy).drafts
    assert draft.is_stop and draft.medication is not None


@pytest.mark.parametrize(
    "junk",
    [
        None,
        "Bundle",
        42,
        [],
        {},
        {"resourceType": "Bundle"},
        {"resourceType": "Bundle", "entry": "x"},
        {
            "resourceType": "Bundle",
            "entry": [None, 1, {"resource": "x"}, {"resource": {"id": "1"}}],
        },
        {
            "resourceType": "Bundle",
            "entry": [
                {"resource": {"resourceType": "MedicationRequest", "dosageInstruction": "x"}}
            ],
        },
    ],
)
def test_malformed_draft_orders_never_raise(policy: Policy, junk: Any) -> None:
    read_orders(junk, ["MedicationRequest/request-123"], policy)
    read_orders(junk, None, policy)


def test_a_bare_list_or_single_resource_is_accepted(policy: Policy) -> None:
    request = med_request(rxnorm=HYDROXO_INJ, status="draft")
    assert len(read_orders([request], None, policy).drafts) == 1
    assert len(read_orders(request, None, policy).drafts) == 1


def test_a_code_whose_text_names_another_strength_is_read_by_its_code_and_says_so(
    policy: Policy,
) -> None:
    """The sandbox sends RxNorm code and display; a hand-edited text must not win silently."""
    bundle = sandbox_draft(
        intent="order",
        medicationCodeableConcept=concept(RXNORM, FOLIC_ACID_1MG, "Folic Acid 1 MG Oral Tablet")
        | {"text": "Folic acid 5 mg tablets"},
    )
    orders = read_orders(bundle, None, policy)
    (draft,) = orders.drafts
    assert draft.medication is not None
    (folic,) = draft.medication.product.ingredients
    assert folic.strength is not None and folic.strength.mg == 1.0  # the code's
    conflict = draft.medication.product.conflict
    assert conflict is not None and "RxNorm 310410" in conflict and "code was used" in conflict
    assert any(conflict in g.message for g in orders.gaps_about("folic-acid"))
