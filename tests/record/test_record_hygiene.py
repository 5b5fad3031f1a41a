"""Unfiltered, duplicated, mixed-patient input: what survives into the record."""

from __future__ import annotations

from typing import Any

import pytest
from record_builders import PATIENT, SNOMED, condition, obs

from cds_service.policy import Policy
from cds_service.record import read_record
from cds_service.record.model import DataGap, PatientRecord, Precision


def read(policy: Policy, resources: Any, notes: tuple[DataGap, ...] = ()) -> PatientRecord:
    return read_record(PATIENT, resources, policy, notes)


@pytest.mark.parametrize(
    ("subject", "kept"),
    [
        ({"reference": f"Patient/{PATIENT}"}, True),
        ({"reference": f"https://fhir.example.org/r4/Patient/{PATIENT}"}, True),
        ({"reference": f"Patient/{PATIENT}/_history/3"}, True),
        (None, True),
        ({"display": "Jane Doe"}, True),
        ({"reference": "Patient/someone-else"}, False),
        ({"reference": f"https://fhir.example.org/r4/Patient/{PATIENT}x"}, False),
        ({"reference": f"Group/{PATIENT}"}, False),
    ],
)
def test_resources_naming_another_patient_are_dropped(
    policy: Policy, subject: dict[str, Any] | None, kept: bool
) -> None:
    resource = obs("14685-2", 100, "pmol/L")
    if subject is None:
        del resource["subject"]
    else:
        resource["subject"] = subject
    assert len(read(policy, [resource]).labs) == (1 if kept else 0)


def test_the_patient_id_may_be_given_as_a_reference(policy: Policy) -> None:
    record = read_record(f"Patient/{PATIENT}", [obs("14685-2", 100, "pmol/L")], policy)
    assert record.patient_id == PATIENT and len(record.labs) == 1


def test_duplicates_by_id_keep_the_most_recently_updated_version(policy: Policy) -> None:
    old = obs("14685-2", 100, "pmol/L", meta={"lastUpdated": "2026-03-02T10:00:00+02:00"})
    new = obs("14685-2", 180, "pmol/L", meta={"lastUpdated": "2026-03-02T09:00:00Z"})
    for order in ([old, new], [new, old]):
        record = read(policy, order)
        assert [lab.value for lab in record.labs] == [180.0]


def test_exact_duplicate_results_without_id_are_dropped(policy: Policy) -> None:
    with_id = obs("14685-2", 100, "pmol/L", ident="o1")
    copy_1 = obs("14685-2", 100, "pmol/L", ident=None)
    copy_2 = obs("14685-2", 100, "pmol/L", ident=None)
    different = obs("14685-2", 101, "pmol/L", ident=None)
    record = read(policy, [copy_1, with_id, copy_2, different])
    assert sorted(lab.value for lab in record.labs) == [100.0, 101.0]


def test_results_with_different_ids_and_equal_values_are_both_kept(policy: Policy) -> None:
    record = read(
        policy, [obs("14685-2", 100, "pmol/L", ident="a"), obs("14685-2", 100, "pmol/L", ident="b")]
    )
    assert len(record.labs) == 2


def test_unknown_resource_types_and_operation_outcomes_are_ignored(policy: Policy) -> None:
    resources = [
        {"resourceType": "OperationOutcome", "issue": [{"severity": "error"}]},
        {"resourceType": "Encounter", "id": "e1", "subject": {"reference": f"Patient/{PATIENT}"}},
        {"resourceType": "AllergyIntolerance", "id": "a1", "patient": {"reference": "Patient/x"}},
        obs("14685-2", 100, "pmol/L"),
    ]
    record = read(policy, resources)
    assert len(record.labs) == 1 and record.gaps == ()


def test_a_bundle_that_slipped_through_is_opened(policy: Policy) -> None:
    bundle = {"resourceType": "Bundle", "entry": [{"resource": obs("14685-2", 100, "pmol/L")}]}
    assert len(read(policy, [bundle]).labs) == 1
    assert len(read(policy, bundle).labs) == 1


@pytest.mark.parametrize(
    "junk",
    [None, 42, "Observation", b"bytes", [None, 1, "x", [], {}], {"resourceType": 5}, {"x": 1}],
)
def test_junk_input_gives_an_empty_record_not_an_error(policy: Policy, junk: Any) -> None:
    record = read(policy, junk)
    assert record.labs == () and record.medications == () and record.diagnoses == ()


def test_data_gaps_from_the_data_layer_are_passed_through_first(policy: Policy) -> None:
    note = DataGap("bundle", "Only the first page of lab results was available")
    record = read(policy, [obs("14685-2", 100, "pmol/L", when="2026-05")], (note,))
    assert record.gaps[0] == note
    assert len(record.gaps) == 2


def test_the_same_gap_is_reported_once(policy: Policy) -> None:
    twice = [obs("14685-2", 100, ident="a"), obs("14685-2", 100, ident="b")]
    assert len(read(policy, twice).gaps) == 1


def test_the_patient_resource_gives_birth_date_and_gender(policy: Policy) -> None:
    patient = {"resourceType": "Patient", "id": PATIENT, "birthDate": "1950-04", "gender": "female"}
    other = {"resourceType": "Patient", "id": "p2", "birthDate": "1999-01-01", "gender": "male"}
    record = read(policy, [other, patient])
    assert record.birth_date is not None and record.birth_date.precision is Precision.MONTH
    assert str(record.birth_date) == "1950-04"
    assert record.gender == "female"


def test_a_record_is_the_same_whatever_the_input_order(policy: Policy) -> None:
    resources = [
        obs("14685-2", 100, "pmol/L", when="2025-06-01", ident="a"),
        obs("13965-9", 12, "umol/L", when="2025-06-01", ident="b"),
        condition(SNOMED, "84027009", ident="c1"),
        condition(SNOMED, "386033004", ident="c2", onsetDateTime="2026-01-01"),
    ]
    assert read(policy, resources) == read(policy, list(reversed(resources)))
