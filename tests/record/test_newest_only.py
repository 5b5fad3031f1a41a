"""Analytes the rules read only as "the latest" (haemoglobin, MCV, folate...) are read from
the newest result down to the first usable one. The answer must be exactly what reading
every result would give; only older results' gaps go unreported."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cds_service.policy import Policy, load_policy
from cds_service.record import read_record
from cds_service.record.dates import newest_first_key
from cds_service.record.index import index_for
from cds_service.record.model import SERIES_ANALYTES, Analyte, LabResult
from cds_service.record.observations import read_observation
from tests.record.record_builders import PATIENT, obs

POLICY = load_policy()
HB = "718-7"


def every_result_read(resources: list[dict[str, Any]], policy: Policy) -> LabResult | None:
    """The old way: read them all, newest first, first usable one wins."""
    index = index_for(policy)
    read = [read_observation(r, f"Observation/{r['id']}", index, []) for r in resources]
    usable = [lab for lab in read if lab is not None]
    usable.sort(key=lambda lab: (newest_first_key(lab.when), lab.ref))
    return usable[0] if usable else None


dates = st.one_of(
    st.dates().map(lambda d: f"{d.year:04d}-{d.month:02d}-{d.day:02d}"),
    st.dates().map(lambda d: f"{d.year:04d}-{d.month:02d}"),
    st.dates().map(lambda d: f"{d.year:04d}-{d.month:02d}-{d.day:02d}T23:30:00+02:00"),
    st.sampled_from(["2026-02-30", "not a date", ""]),
    st.none(),
)
results = st.lists(
    st.tuples(
        dates,
        st.one_of(st.floats(80, 180), st.none(), st.just(-5.0)),
        st.sampled_from(["g/L", "g/dL", None, "furlongs"]),
        st.sampled_from(["final", "amended", "entered-in-error", "preliminary"]),
    ),
    max_size=12,
)


@settings(max_examples=500, deadline=None, database=None)
@given(results)
def test_the_newest_usable_result_is_the_one_reading_everything_finds(
    rows: list[tuple[Any, Any, Any, str]],
) -> None:
    resources = [
        obs(HB, value, unit, when, ident=f"o{n}", status=status)
        for n, (when, value, unit, status) in enumerate(rows)
    ]
    record = read_record(PATIENT, resources, POLICY)
    assert record.latest(Analyte.HB) == every_result_read(resources, POLICY)
    assert len([lab for lab in record.labs if lab.analyte is Analyte.HB]) <= 1


def test_older_results_are_not_read_but_newer_unusable_ones_are_reported() -> None:
    resources = [
        obs(HB, 120, "g/L", "2026-03-01", ident="usable"),
        obs(HB, 118, None, "2026-04-01", ident="newer-no-unit"),
        obs(HB, 121, None, "2025-01-01", ident="older-no-unit"),
    ]
    record = read_record(PATIENT, resources, POLICY)
    latest = record.latest(Analyte.HB)
    assert latest is not None and latest.ref == "Observation/usable"
    words = " ".join(g.message for g in record.gaps)
    assert "2026-04-01" in words
    assert "2025-01-01" not in words


def test_series_analytes_keep_every_result_and_others_refuse_a_series() -> None:
    resources = [
        obs("14685-2", 300 + n, "pmol/L", f"2026-0{n + 1}-01", ident=f"b{n}") for n in range(3)
    ]
    record = read_record(PATIENT, resources, POLICY)
    assert Analyte.B12 in SERIES_ANALYTES
    assert len(record.results(Analyte.B12)) == 3
    with pytest.raises(ValueError, match="latest result only"):
        record.results(Analyte.HB)
