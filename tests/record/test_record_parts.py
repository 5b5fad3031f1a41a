"""The reader's building blocks: FHIR dates, dosing intervals, units, and speed."""

from __future__ import annotations

import time
from datetime import date

import pytest
from record_builders import PATIENT, SNOMED, condition, med_request, obs, repeat

from cds_service.policy import Policy
from cds_service.record import read_record
from cds_service.record.dates import fuzzy_date
from cds_service.record.model import Analyte, Precision
from cds_service.record.timing import duration_days, repeat_interval, text_interval
from cds_service.record.units import factor


@pytest.mark.parametrize(
    ("raw", "earliest", "latest", "precision"),
    [
        ("2026", date(2026, 1, 1), date(2026, 12, 31), Precision.YEAR),
        ("2024-02", date(2024, 2, 1), date(2024, 2, 29), Precision.MONTH),
        ("2026-03-01", date(2026, 3, 1), date(2026, 3, 1), Precision.DAY),
        ("2026-03-01T23:59:59+14:00", date(2026, 3, 1), date(2026, 3, 1), Precision.DAY),
        ("2026-03-01T00:00:00.123456Z", date(2026, 3, 1), date(2026, 3, 1), Precision.DAY),
        (" 2026-03-01 ", date(2026, 3, 1), date(2026, 3, 1), Precision.DAY),
    ],
)
def test_fhir_dates_keep_their_precision_and_bounds(
    raw: str, earliest: date, latest: date, precision: Precision
) -> None:
    found = fuzzy_date(raw)
    assert found is not None
    assert (found.earliest, found.latest, found.precision) == (earliest, latest, precision)


@pytest.mark.parametrize(
    "raw",
    ["2026-02-30", "2026-13", "0000", "26-03-01", "2026/03/01", "yesterday", "", None, 20260301],
)
def test_invalid_dates_are_none(raw: object) -> None:
    assert fuzzy_date(raw) is None


def test_a_partial_date_counts_days_from_its_latest_possible_day() -> None:
    found = fuzzy_date("2026-05")
    assert found is not None and found.days_before(date(2026, 6, 30)) == 30


@pytest.mark.parametrize(
    ("words", "days"),
    [
        ("every 3 months", 91.32),
        ("every three months", 91.32),
        ("Every 2 to 3 months", 91.32),
        ("every 8-12 weeks", 84.0),
        ("2-3 monthly", 91.32),
        ("three-monthly", 91.32),
        ("fortnightly", 14.0),
        ("twice a day", 0.5),
        ("once a week", 7.0),
        ("q3mo", 91.32),
        ("yearly", 365.25),
        ("take as directed", None),
        ("take 2 tablets", None),
        ("", None),
    ],
)
def test_free_text_intervals_take_the_longer_end_of_a_range(words: str, days: float | None) -> None:
    found = text_interval(words)
    assert found == (pytest.approx(days, abs=0.01) if days is not None else None)


@pytest.mark.parametrize(
    "fields",
    [
        {"period": 0, "periodUnit": "d"},
        {"period": 1, "periodUnit": "fortnight"},
        {"period": 1, "periodUnit": "d", "frequency": 0},
        {"period": -3, "periodUnit": "mo"},
        {"period": "NaN", "periodUnit": "d"},
        {"period": 1e300, "periodUnit": "a"},
        {"frequency": 2},
    ],
)
def test_impossible_timings_give_no_interval(fields: dict[str, object]) -> None:
    assert repeat_interval(fields) is None


@pytest.mark.parametrize(
    ("duration", "days"),
    [
        ({"value": 2, "code": "wk"}, 14.0),
        ({"value": 3, "unit": "months"}, 91.32),
        ({"value": 1, "unit": "year"}, 365.25),
        ({"value": 1, "unit": "parsecs"}, None),
    ],
)
def test_durations_convert_to_days(duration: dict[str, object], days: float | None) -> None:
    found = duration_days(duration)
    assert found == (pytest.approx(days, abs=0.01) if days is not None else None)


@pytest.mark.parametrize(
    ("analyte", "unit", "known"),
    [
        (Analyte.B12, "pg/mL", True),
        (Analyte.B12, "PG/ML", True),
        (Analyte.B12, "ng/dL", False),
        (Analyte.B12, None, False),
        (Analyte.HOMOCYSTEINE, "µmol/L", True),
        (Analyte.HOMOCYSTEINE, "mmol/L", False),
        (Analyte.PHQ9, None, True),
    ],
)
def test_only_listed_units_convert(analyte: Analyte, unit: str | None, known: bool) -> None:
    assert (factor(analyte, unit) is not None) is known


def test_reading_a_large_unfiltered_bundle_stays_fast(policy: Policy) -> None:
    resources = [obs("8867-4", 70, "/min", ident=f"hr{n}") for n in range(5000)]
    resources += [obs("14685-2", 200 + n, "pmol/L", ident=f"b{n}") for n in range(200)]
    resources += [
        med_request(ident=f"m{n}", dosage=repeat(period=3, periodUnit="mo")) for n in range(100)
    ]
    resources += [condition(SNOMED, "38341003", ident=f"c{n}") for n in range(300)]
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        record = read_record(PATIENT, resources, policy)
        best = min(best, time.perf_counter() - started)
    assert len(record.labs) == 200 and len(record.medications) == 100
    assert best < 0.5, f"5600 resources took {best * 1000:.0f} ms"
