"""Conditions and Procedures -> value-set concepts the rules ask about."""

from __future__ import annotations

from typing import Any

import pytest
from record_builders import ICD10CM, PATIENT, SNOMED, concept, condition, subject

from cds_service.policy import Policy
from cds_service.record import read_record
from cds_service.record.model import PatientRecord, Precision


def read(policy: Policy, *resources: Any) -> PatientRecord:
    return read_record(PATIENT, list(resources), policy)


def test_a_condition_carries_every_value_set_its_codes_belong_to(policy: Policy) -> None:
    record = read(policy, condition(SNOMED, "84027009"))  # pernicious anaemia
    (diagnosis,) = record.diagnoses
    assert {"VS_B12_DEFICIENCY", "VS_MALABSORPTION_IRREVERSIBLE"} <= diagnosis.concepts
    assert diagnosis.code == f"{SNOMED}|84027009"
    assert record.has("VS_MALABSORPTION_IRREVERSIBLE")


def test_a_condition_coded_outside_every_value_set_is_skipped(policy: Policy) -> None:
    assert read(policy, condition(SNOMED, "38341003")).diagnoses == ()  # hypertension


def test_any_coding_of_a_condition_can_match(policy: Policy) -> None:
    resource = condition(SNOMED, "38341003")
    resource["code"]["coding"].append({"system": ICD10CM, "code": "D51.0"})
    (diagnosis,) = read(policy, resource).diagnoses
    assert diagnosis.code == f"{ICD10CM}|D51.0"


@pytest.mark.parametrize("verification", ["entered-in-error", "refuted"])
def test_entered_in_error_and_refuted_conditions_never_count(
    policy: Policy, verification: str
) -> None:
    assert read(policy, condition(SNOMED, "84027009", verification=verification)).diagnoses == ()


@pytest.mark.parametrize("verification", ["confirmed", "provisional", "unconfirmed", None])
def test_other_verification_statuses_are_kept_for_the_rules_to_weigh(
    policy: Policy, verification: str | None
) -> None:
    (diagnosis,) = read(policy, condition(SNOMED, "84027009", verification=verification)).diagnoses
    assert diagnosis.verification_status == verification


def test_resolved_surgical_history_is_kept_but_not_current(policy: Policy) -> None:
    gastrectomy = condition(SNOMED, "53442002", clinical="resolved", abatementDateTime="2019-06-01")
    record = read(policy, gastrectomy)
    (diagnosis,) = record.diagnoses
    assert diagnosis.clinical_status == "resolved" and not diagnosis.is_current
    assert str(diagnosis.abatement) == "2019-06-01"
    assert record.has("VS_MALABSORPTION_IRREVERSIBLE")
    assert not record.has("VS_MALABSORPTION_IRREVERSIBLE", current_only=True)


@pytest.mark.parametrize(
    ("dates", "onset", "precision"),
    [
        ({"onsetDateTime": "2015"}, "2015", Precision.YEAR),
        ({"onsetPeriod": {"start": "2015-03"}}, "2015-03", Precision.MONTH),
        ({"onsetString": "childhood"}, None, None),
    ],
)
def test_onset_keeps_its_precision_and_onset_string_is_ignored(
    policy: Policy, dates: dict[str, Any], onset: str | None, precision: Precision | None
) -> None:
    (diagnosis,) = read(policy, condition(SNOMED, "84027009", **dates)).diagnoses
    assert (str(diagnosis.onset) if diagnosis.onset else None) == onset
    assert (diagnosis.onset.precision if diagnosis.onset else None) is precision


def test_an_invalid_onset_date_is_none_and_said_so(policy: Policy) -> None:
    record = read(policy, condition(SNOMED, "84027009", onsetDateTime="2015-02-30"))
    assert record.diagnoses[0].onset is None
    assert record.gaps_about("conditions")


def test_display_prefers_the_record_text_then_the_policy_display(policy: Policy) -> None:
    with_text = condition(SNOMED, "84027009")
    with_text["code"]["text"] = "PA (Addisonian)"
    assert read(policy, with_text).diagnoses[0].display == "PA (Addisonian)"
    assert read(policy, condition(SNOMED, "84027009")).diagnoses[0].display == "Pernicious anemia"


def procedure(code: str, status: str | None = "completed", **extra: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Procedure",
        "id": "pr1",
        "subject": subject(),
        "code": concept(SNOMED, code),
    }
    if status:
        resource["status"] = status
    resource.update(extra)
    return resource


def test_a_completed_procedure_in_a_value_set_counts(policy: Policy) -> None:
    record = read(policy, procedure("53442002", performedDateTime="2010-05-01"))
    (done,) = record.procedures
    assert done.is_done and str(done.performed) == "2010-05-01"
    assert record.has("VS_MALABSORPTION_IRREVERSIBLE")


@pytest.mark.parametrize("status", ["entered-in-error", "not-done"])
def test_procedures_not_done_or_in_error_are_dropped(policy: Policy, status: str) -> None:
    assert read(policy, procedure("53442002", status=status)).procedures == ()


def test_a_procedure_outside_every_value_set_is_skipped(policy: Policy) -> None:
    assert read(policy, procedure("80146002")).procedures == ()  # appendicectomy
