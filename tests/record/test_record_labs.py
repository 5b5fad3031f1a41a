"""Observations -> normalised lab results, and the gaps for results that cannot be used."""

from __future__ import annotations

from typing import Any

import pytest
from record_builders import LOINC, PATIENT, obs

from cds_service.policy import Policy
from cds_service.record import read_record
from cds_service.record.model import Analyte, LabResult, PatientRecord, Precision


def read(policy: Policy, *resources: Any) -> PatientRecord:
    return read_record(PATIENT, list(resources), policy)


def only_lab(record: PatientRecord) -> LabResult:
    assert len(record.labs) == 1, record
    return record.labs[0]


@pytest.mark.parametrize(
    ("loinc", "value", "unit", "analyte", "expected"),
    [
        ("14685-2", 133, "pmol/L", Analyte.B12, 133.0),
        ("2132-9", 350, "pg/mL", Analyte.B12, 258.3),
        ("2132-9", 350, "ng/L", Analyte.B12, 258.3),
        ("2132-9", 200, "pmol/L", Analyte.B12, 200.0),  # UCUM unit beats the code's property
        ("72160-5", 40, "pmol/L", Analyte.HOLOTC, 40.0),
        ("13964-2", 0.45, "umol/L", Analyte.MMA, 0.45),
        ("13964-2", 0.45, "nmol/mL", Analyte.MMA, 0.45),
        ("13964-2", 450, "nmol/L", Analyte.MMA, 0.45),
        ("13965-9", 12, "umol/L", Analyte.HOMOCYSTEINE, 12.0),
        ("13965-9", 12, "µmol/L", Analyte.HOMOCYSTEINE, 12.0),
        ("13965-9", 12, "μmol/L", Analyte.HOMOCYSTEINE, 12.0),
        ("13965-9", 12, "micromol/L", Analyte.HOMOCYSTEINE, 12.0),
        ("2428-1", 1.35, "mg/L", Analyte.HOMOCYSTEINE, 10.0),
        ("2428-1", 2.03, "mg/L", Analyte.HOMOCYSTEINE, 15.0),
        ("2284-8", 4, "ng/mL", Analyte.FOLATE, 9.1),
        ("2284-8", 4, "ug/L", Analyte.FOLATE, 9.1),
        ("14732-2", 9, "nmol/L", Analyte.FOLATE, 9.0),
        ("14731-4", 800, "nmol/L", Analyte.RBC_FOLATE, 800.0),
        ("718-7", 12.3, "g/dL", Analyte.HB, 123.0),
        ("718-7", 123, "g/L", Analyte.HB, 123.0),
        ("718-7", 7.5, "mmol/L", Analyte.HB, 120.8),
        ("787-2", 104, "fL", Analyte.MCV, 104.0),
        ("30428-7", 98, "fL", Analyte.MCV, 98.0),
        ("44261-6", 14, "{score}", Analyte.PHQ9, 14.0),
        ("44260-8", 1, None, Analyte.PHQ9_ITEM9, 1.0),
    ],
)
def test_each_analyte_is_normalised_to_its_one_unit(
    policy: Policy, loinc: str, value: float, unit: str | None, analyte: Analyte, expected: float
) -> None:
    lab = only_lab(read(policy, obs(loinc, value, unit)))
    assert lab.analyte is analyte
    assert lab.value == pytest.approx(expected, abs=0.051)
    assert lab.code == loinc


@pytest.mark.parametrize(
    ("value", "unit", "below_133"),
    [
        (179, "pg/mL", True),
        (181, "pg/mL", False),
        (132, "pmol/L", True),
        (133, "pmol/L", False),
    ],
)
def test_b12_in_ng_per_l_lands_on_the_pmol_scale_around_the_180_133_cut_off(
    policy: Policy, value: int, unit: str, below_133: bool
) -> None:
    lab = only_lab(read(policy, obs("2132-9", value, unit)))
    assert lab.definitely_below(133) is below_133


def test_b12_of_180_pg_per_ml_reads_as_132_8_pmol_per_l(policy: Policy) -> None:
    lab = only_lab(read(policy, obs("2132-9", 180, "pg/mL")))
    assert lab.value == pytest.approx(132.8)
    assert lab.normalised() == "132.8 pmol/L"


def test_whole_blood_cobalamin_16695_9_never_counts_as_serum_b12(policy: Policy) -> None:
    record = read(policy, obs("16695-9", 150, "pmol/L"))
    assert record.labs == ()
    assert record.gaps == ()


def test_an_excluded_coding_beside_a_serum_code_still_excludes_the_result(policy: Policy) -> None:
    both = obs("2132-9", 150, "pmol/L")
    both["code"]["coding"].append({"system": LOINC, "code": "16695-9"})
    assert read(policy, both).labs == ()


def test_unrelated_observations_are_ignored_without_gaps(policy: Policy) -> None:
    record = read(policy, obs("8867-4", 72, "/min"))
    assert record.labs == () and record.gaps == ()


@pytest.mark.parametrize("status", ["entered-in-error", "cancelled", "registered"])
def test_results_with_a_status_that_never_counts_are_dropped_silently(
    policy: Policy, status: str
) -> None:
    record = read(policy, obs("14685-2", 100, "pmol/L", status=status))
    assert record.labs == () and record.gaps == ()


@pytest.mark.parametrize("status", ["final", "amended", "corrected", "preliminary"])
def test_final_and_corrected_results_count(policy: Policy, status: str) -> None:
    assert len(read(policy, obs("14685-2", 100, "pmol/L", status=status)).labs) == 1


@pytest.mark.parametrize(
    ("quantity_or_string", "value", "comparator", "shown"),
    [
        (
            {"valueQuantity": {"value": 150, "comparator": "<", "unit": "pg/mL"}},
            110.7,
            "<",
            "<150 pg/mL",
        ),
        ({"valueString": "<150 pg/mL"}, 110.7, "<", "<150 pg/mL"),
        ({"valueString": "< 150 pg/mL"}, 110.7, "<", "< 150 pg/mL"),
        ({"valueString": ">2000 pmol/L"}, 2000.0, ">", ">2000 pmol/L"),
        ({"valueString": ">2,000 pmol/L"}, 2000.0, ">", ">2,000 pmol/L"),
        ({"valueString": "250 pmol/L"}, 250.0, None, "250 pmol/L"),
    ],
)
def test_censored_values_keep_their_comparator_and_the_text_as_reported(
    policy: Policy,
    quantity_or_string: dict[str, Any],
    value: float,
    comparator: str | None,
    shown: str,
) -> None:
    lab = only_lab(read(policy, obs("2132-9", **quantity_or_string)))
    assert lab.value == pytest.approx(value, abs=0.05)
    assert lab.comparator == comparator
    assert lab.shown == shown


def test_a_below_detection_b12_is_definitely_below_but_never_definitely_adequate(
    policy: Policy,
) -> None:
    lab = only_lab(read(policy, obs("2132-9", 150, "pg/mL", comparator="<")))
    assert lab.definitely_below(133)
    assert not lab.definitely_at_or_above(100)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"valueQuantity": {"value": 150}}, "B12 result of 2026-03-01 skipped: no unit"),
        ({"valueString": "<150"}, "B12 result of 2026-03-01 skipped: no unit"),
        (
            {"valueQuantity": {"value": 150, "unit": "furlongs"}},
            "B12 result of 2026-03-01 skipped: unit 'furlongs' not recognised",
        ),
        ({"valueString": "see comment"}, "B12 result of 2026-03-01 skipped: no numeric value"),
        ({}, "B12 result of 2026-03-01 skipped: no numeric value"),
    ],
)
def test_a_result_without_a_usable_unit_or_value_is_skipped_and_said_so(
    policy: Policy, extra: dict[str, Any], message: str
) -> None:
    record = read(policy, obs("2132-9", **extra))
    assert record.labs == ()
    assert [(g.topic, g.message) for g in record.gaps] == [("b12", message)]


def test_phq9_needs_no_unit_and_reads_value_integer(policy: Policy) -> None:
    lab = only_lab(read(policy, obs("44261-6", valueInteger=17)))
    assert (lab.analyte, lab.value, lab.shown) == (Analyte.PHQ9, 17.0, "17")
    assert read(policy, obs("44261-6", valueInteger=17)).gaps == ()


def test_a_phq9_score_outside_0_to_27_is_skipped_with_a_gap(policy: Policy) -> None:
    record = read(policy, obs("44261-6", valueInteger=31))
    assert record.labs == ()
    assert record.gaps_about("phq9")


def test_a_result_with_a_data_absent_reason_is_skipped(policy: Policy) -> None:
    resource = obs(
        "14685-2", dataAbsentReason={"coding": [{"code": "error"}], "text": "haemolysed"}
    )
    record = read(policy, resource)
    assert record.labs == ()
    assert record.gaps[0].message == "B12 result of 2026-03-01 has no value (haemolysed)"


@pytest.mark.parametrize(
    ("when", "precision", "gap"),
    [
        ("2026-05", Precision.MONTH, "B12 result dated 2026-05 (month only)"),
        ("2026", Precision.YEAR, "B12 result dated 2026 (year only)"),
        ("2026-05-04T23:30:00-08:00", Precision.DAY, None),
    ],
)
def test_partial_dates_are_kept_with_their_precision_and_flagged(
    policy: Policy, when: str, precision: Precision, gap: str | None
) -> None:
    record = read(policy, obs("14685-2", 100, "pmol/L", when=when))
    lab = only_lab(record)
    assert lab.when.precision is precision
    assert [g.message for g in record.gaps] == ([gap] if gap else [])


def test_a_datetime_keeps_the_calendar_date_as_written_whatever_the_timezone(
    policy: Policy,
) -> None:
    lab = only_lab(read(policy, obs("14685-2", 100, "pmol/L", when="2026-05-04T23:30:00-08:00")))
    assert str(lab.when) == "2026-05-04"


@pytest.mark.parametrize(
    ("dates", "expected", "note"),
    [
        ({"effectivePeriod": {"start": "2026-02-03", "end": "2026-02-04"}}, "2026-02-03", None),
        ({"effectiveInstant": "2026-02-05T10:00:00Z"}, "2026-02-05", None),
        ({"issued": "2026-02-06T08:00:00Z"}, "2026-02-06", "Observation.issued"),
    ],
)
def test_the_date_comes_from_effective_then_issued_which_is_noted(
    policy: Policy, dates: dict[str, Any], expected: str, note: str | None
) -> None:
    lab = only_lab(read(policy, obs("14685-2", 100, "pmol/L", when=None, **dates)))
    assert str(lab.when) == expected
    assert (note in (lab.note or "")) if note else lab.note is None


@pytest.mark.parametrize(
    ("when", "message"),
    [
        (None, "B12 result skipped: no date"),
        ("2026-02-30", "B12 result skipped: its date is not a valid date"),
        ("last tuesday", "B12 result skipped: its date is not a valid date"),
    ],
)
def test_an_undated_or_badly_dated_result_is_skipped_with_a_gap(
    policy: Policy, when: str | None, message: str
) -> None:
    record = read(policy, obs("14685-2", 100, "pmol/L", when=when))
    assert record.labs == ()
    assert [g.message for g in record.gaps] == [message]


def test_the_reference_high_is_normalised_too(policy: Policy) -> None:
    resource = obs(
        "2132-9", 300, "pg/mL", referenceRange=[{"high": {"value": 900, "unit": "pg/mL"}}]
    )
    assert only_lab(read(policy, resource)).reference_high == pytest.approx(664.2)
    no_unit = obs("13965-9", 12, "umol/L", referenceRange=[{"high": {"value": 15}}])
    assert only_lab(read(policy, no_unit)).reference_high == 15.0


def test_labs_come_out_newest_first_whatever_the_input_order(policy: Policy) -> None:
    record = read(
        policy,
        obs("14685-2", 100, "pmol/L", when="2025-06-01", ident="a"),
        obs("14685-2", 110, "pmol/L", when="2026-01", ident="b"),
        obs("14685-2", 120, "pmol/L", when="2026-01-20", ident="c"),
        obs("13965-9", 9, "umol/L", when="2024-01-01", ident="d"),
    )
    assert [r.ref for r in record.labs] == [
        "Observation/b",
        "Observation/c",
        "Observation/a",
        "Observation/d",
    ]
    assert record.latest(Analyte.B12) is record.labs[0]


def test_the_oid_spelling_of_loinc_is_understood(policy: Policy) -> None:
    resource = obs("14685-2", 100, "pmol/L")
    resource["code"]["coding"][0]["system"] = "urn:oid:2.16.840.1.113883.6.1"
    assert len(read(policy, resource).labs) == 1
