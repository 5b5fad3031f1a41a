"""`fuzzy_date` reads a full date through a shape check and C's date parser, and anything
else through the pattern; both must answer exactly as the pattern alone would."""

from __future__ import annotations

import calendar
from datetime import date
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cds_service.record.dates import _DATE, fuzzy_date
from cds_service.record.model import FuzzyDate, Precision


def by_pattern(value: Any) -> FuzzyDate | None:
    if not isinstance(value, str) or len(value) > 40:
        return None
    match = _DATE.match(value.strip())
    if match is None or int(match["y"]) < 1:
        return None
    y, m, d = match["y"], match["m"], match["d"]
    year = int(y)
    try:
        if m is None:
            return FuzzyDate(date(year, 1, 1), date(year, 12, 31), Precision.YEAR, f"{year:04d}")
        if d is None:
            month = int(m)
            last = calendar.monthrange(year, month)[1]
            return FuzzyDate(
                date(year, month, 1),
                date(year, month, last),
                Precision.MONTH,
                f"{year:04d}-{month:02d}",
            )
        day = date(year, int(m), int(d))
    except (ValueError, calendar.IllegalMonthError):
        return None
    return FuzzyDate(day, day, Precision.DAY, day.isoformat())


pieces = st.sampled_from(
    [
        "2016",
        "0000",
        "9999",
        "-",
        "12",
        "02",
        "13",
        "30",
        "29",
        "31",
        "W01",
        "T",
        " ",
        "Z",
        "08:19",
        ":00",
        ".123",
        "+02:00",
        "-0530",
        "١",
        "²",
        "x",
        "+",
        "1",
    ]
)
strings = st.one_of(
    st.lists(pieces, max_size=9).map("".join),
    st.datetimes().map(lambda d: d.isoformat()),
    st.dates().map(lambda d: d.isoformat()),
    st.text(max_size=25),
    st.sampled_from(["2016-W01-1", "2016-12-1x", "２016-12-16", "2016-02-30", "2016-12-16T25:00"]),
)


@settings(max_examples=3000, deadline=None, database=None)
@given(strings)
def test_both_paths_answer_as_the_pattern_does(value: str) -> None:
    assert fuzzy_date(value) == by_pattern(value)
