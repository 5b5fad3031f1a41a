"""The terminology review's corrections, as the reader applies them, and what the reader takes
from a condition's or procedure's own words and links."""

from __future__ import annotations

from typing import Any

import pytest
from record_builders import ICD10CM, PATIENT, SNOMED, condition, subject

from cds_service.policy import Policy
from cds_service.record import read_record
from cds_service.record.model import PatientRecord

IRREVERSIBLE = "VS_MALABSORPTION_IRREVERSIBLE"
PCS = "http://www.cms.gov/Medicare/Coding/ICD10"


def read(policy: Policy, *resources: Any) -> PatientRecord:
    return read_record(PATIENT, list(resources), policy)


def procedure(system: str, code: str, text: str | None = None, **extra: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Procedure",
        "id": extra.pop("ident", "pr1"),
        "status": "completed",
        "subject": subject(),
        "code": {"coding": [{"system": system, "code": code}]},
        "performedDateTime": "2019-05-01",
    }
    if text:
        resource["code"]["text"] = text
    resource.update(extra)
    return resource


@pytest.mark.parametrize(
    ("system", "code"), [(ICD10CM, "Z90.49"), ("http://hl7.org/fhir/sid/icd-10", "Z90.4")]
)
def test_absent_digestive_part_status_is_not_ileal_resection(
    policy: Policy, system: str, code: str
) -> None:
    record = read(policy, condition(system, code))
    assert not record.has(IRREVERSIBLE)


@pytest.mark.parametrize("code", ["38106008", "56689002", "71833008"])
def test_crohns_disease_is_a_risk_not_an_irreversible_cause(policy: Policy, code: str) -> None:
    record = read(policy, condition(SNOMED, code))
    assert not record.has(IRREVERSIBLE) and record.has("VS_MALABSORPTION_OTHER")


def test_small_bowel_excision_is_irreversible_only_for_the_terminal_ileum(policy: Policy) -> None:
    bare = read(policy, procedure(SNOMED, "54357003"))
    assert not bare.has(IRREVERSIBLE) and bare.has("VS_SMALL_BOWEL_RESECTION")
    jejunum = read(policy, procedure(SNOMED, "54357003", bodySite=[{"text": "Jejunum"}]))
    assert not jejunum.has(IRREVERSIBLE)
    ileum = read(policy, procedure(SNOMED, "54357003", bodySite=[{"text": "Terminal ileum"}]))
    (item,) = ileum.procedures
    assert IRREVERSIBLE in item.concepts and item.qualifier == "terminal ileum (body site)"
    named = read(policy, procedure(SNOMED, "107938000", text="Ileocaecal resection"))
    assert named.has(IRREVERSIBLE)


def test_a_resection_of_the_ileum_is_irreversible_by_its_code(policy: Policy) -> None:
    assert read(policy, procedure(PCS, "0DTB0ZZ")).has(IRREVERSIBLE)


def test_memory_impairment_is_cognitive_not_neurological(policy: Policy) -> None:
    (item,) = read(policy, condition(SNOMED, "386807006")).diagnoses
    assert "VS_COGNITIVE" in item.concepts and "VS_NEURO" not in item.concepts


def test_a_condition_due_to_b12_deficiency_carries_the_link(policy: Policy) -> None:
    linked = condition(SNOMED, "386807006")
    linked["extension"] = [
        {
            "url": "http://hl7.org/fhir/StructureDefinition/condition-dueTo",
            "valueReference": {"reference": "Condition/def-1"},
        }
    ]
    linked["evidence"] = [{"code": [{"coding": [{"system": SNOMED, "code": "190634004"}]}]}]
    (item,) = read(policy, linked).diagnoses
    assert "VS_B12_DEFICIENCY" in item.linked and item.linked_refs == {"Condition/def-1"}
    worded = condition(SNOMED, "386807006")
    worded["code"]["text"] = "Memory impairment due to vitamin B12 deficiency"
    (item,) = read(policy, worded).diagnoses
    assert "VS_B12_DEFICIENCY" in item.linked


@pytest.mark.parametrize(
    "words", ["Recreational nitrous oxide use", "N2O misuse", "Laughing gas (whippets) use"]
)
def test_nitrous_oxide_use_is_read_by_its_words(policy: Policy, words: str) -> None:
    resource = condition("http://example.org/local", "X1")
    resource["code"]["text"] = words
    record = read(policy, resource)
    assert record.has("N2O_EXPOSURE")
    assert any("recognised by its words" in g.message for g in record.gaps_about("conditions"))


@pytest.mark.parametrize(
    ("words", "dose"),
    [
        ("Vitamin B12 injection", True),
        ("Injection, vitamin B-12 cyanocobalamin, up to 1000 mcg", True),
        ("Hydroxocobalamin IM injection", True),
        ("Vitamin B12 level", False),  # a test, not a dose: no cobalamin product named...
        ("Appendicectomy", False),
    ],
)
def test_a_procedure_recording_a_b12_injection_is_a_dose(
    policy: Policy, words: str, dose: bool
) -> None:
    record = read(policy, procedure("http://www.ama-assn.org/go/cpt", "96372", text=words))
    assert record.has("B12_ADMINISTRATION") is dose
