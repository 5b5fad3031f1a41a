"""data.completeness: which end of a cut search is missing, and what a `total` is compared with."""

from __future__ import annotations

import pytest

from cds_service.data.completeness import (
    KeyReport,
    counted_for_total,
    missing_direction,
    self_params,
)


@pytest.mark.parametrize(
    ("resource_type", "sort", "missing"),
    [
        ("MedicationAdministration", "-effective-time", "older"),
        ("MedicationAdministration", "effective-time", "newer"),
        ("MedicationAdministration", "", "unknown"),
        ("MedicationAdministration", "-_lastUpdated", "unknown"),  # not the clinical date
        ("Observation", "-date,code", "older"),  # the first key decides
        ("Observation", "-effective-time", "unknown"),  # another type's parameter
        ("MedicationRequest", "-authoredon", "older"),
        ("Condition", "-recorded-date", "older"),
        ("Condition", "-onset-date", "older"),
        ("Procedure", "-date", "older"),
        ("MedicationStatement", "-effective", "older"),
    ],
)
def test_the_first_sort_key_says_which_records_a_cut_lacks(
    resource_type: str, sort: str, missing: str
) -> None:
    params = [("patient", "p1")] + ([("_sort", sort)] if sort else [])
    assert missing_direction(resource_type, params) == missing


def test_a_self_link_says_how_the_server_ran_the_search() -> None:
    bundle = {
        "link": [
            {"relation": "next", "url": "https://x.example/fhir/Observation?_offset=20"},
            {"relation": "self", "url": "https://x.example/fhir/Observation?patient=p&_sort=-date"},
        ]
    }
    assert self_params(bundle) == [("patient", "p"), ("_sort", "-date")]
    assert self_params({"link": [{"relation": "self", "url": 5}]}) is None
    assert self_params({}) is None


def entry(kind: str, mode: str | None = None) -> dict[str, object]:
    made: dict[str, object] = {"resource": {"resourceType": kind}}
    if mode:
        made["search"] = {"mode": mode}
    return made


def test_a_total_counts_matches_where_modes_are_marked_and_every_entry_where_not() -> None:
    marked = {"entry": [entry("MedicationRequest", "match"), entry("Medication", "include")]}
    assert counted_for_total(marked, 1) == 1  # total 2 would be a cut
    unmarked = {"entry": [entry("MedicationRequest"), entry("Medication")]}
    assert counted_for_total(unmarked, 1) == 2  # total 2 includes the Medication: complete
    assert counted_for_total({}, 0) == 0


def test_a_cut_says_what_was_read_and_which_end_is_missing() -> None:
    report = KeyReport("labs", "laboratory results", "truncated", "older", 3, 9, "the page limit")
    assert report.note() == (
        "Records incomplete: laboratory results ('labs'), 3 of 9 read; the page limit; "
        "the search was sorted newest first, so older records are missing."
    )
    assert KeyReport("labs", "laboratory results", "complete").note() == ""
    unknown = KeyReport("medrequests", "medication orders", "truncated", "unknown", 4, unreadable=1)
    assert unknown.note() == (
        "Records incomplete: medication orders ('medrequests'), 1 of 4 name a Medication that "
        "could not be read, so what they are is unknown."
    )
