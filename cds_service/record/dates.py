"""FHIR date, dateTime and instant strings -> `FuzzyDate` at the precision written.

A dateTime keeps the local calendar date as written (the clinician's day), whatever its
timezone: converting to UTC could move a 23:30 injection to the next day.
"""

from __future__ import annotations

import calendar
import re
from datetime import date
from typing import Any

from cds_service.record.model import FuzzyDate, Precision

# What may follow "YYYY-MM-DD" in a dateTime or instant.
_TIME_PART = r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
_DATE = re.compile(r"^(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})" + _TIME_PART + r")?)?$")
_TIME = re.compile(_TIME_PART)

PRECISION_WORDS = {Precision.YEAR: "year only", Precision.MONTH: "month only"}


def fuzzy_date(value: Any) -> FuzzyDate | None:
    """Parse a FHIR date/dateTime/instant; None for anything that is not a real date."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    raw = value.strip()
    head = raw[:10]
    if (  # the common case, a full date (and time): C's date parser after a shape check
        len(head) == 10
        and head[4] == "-"
        and head[7] == "-"
        and head.isascii()
        and head[:4].isdigit()
        and head[5:7].isdigit()
        and head[8:].isdigit()
        and _TIME.fullmatch(raw, 10) is not None
    ):
        try:
            day = date.fromisoformat(head)
        except ValueError:
            return None
        return FuzzyDate(day, day, Precision.DAY, head)
    match = _DATE.match(raw)
    if match is None:
        return None
    y, m, d = match.group(1, 2, 3)  # any Unicode digits: the text is written in ASCII
    year = int(y)
    if year < 1:
        return None
    try:
        if d is not None:
            day = date(year, int(m), int(d))
            return FuzzyDate(day, day, Precision.DAY, day.isoformat())
        if m is None:
            return FuzzyDate(date(year, 1, 1), date(year, 12, 31), Precision.YEAR, f"{year:04d}")
        month = int(m)
        last = calendar.monthrange(year, month)[1]
        return FuzzyDate(
            date(year, month, 1),
            date(year, month, last),
            Precision.MONTH,
            f"{year:04d}-{month:02d}",
        )
    except (ValueError, calendar.IllegalMonthError):
        return None


def partial_words(when: FuzzyDate) -> str | None:
    """'month only' / 'year only' for a partial date, None for a full one."""
    return PRECISION_WORDS.get(when.precision)


def newest_first_key(when: FuzzyDate | None) -> tuple[int, int, int]:
    """Sort key putting the newest date first and undated items last (ascending sort)."""
    if when is None:
        return (1, 0, 0)
    return (0, -when.latest.toordinal(), -when.earliest.toordinal())
