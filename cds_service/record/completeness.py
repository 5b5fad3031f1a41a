"""How complete each search behind the record is: what the rules may conclude from absence.

A record built from a cut search holds fewer records than the patient has. Presence is still
evidence (a dose that is there was given), but absence is not: "no dose since ...", "no test
in 12 months", "no therapy" may only be concluded from a search that was read in full, or
one whose missing part cannot hold the records in question (a search sorted newest first
and cut lacks only the oldest records, so "the latest dose" is still the latest).

Plain data, made by the edge from what the data layer reports; `rules.completeness` decides
what a cut search does to each rule's finding.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType


class Coverage(StrEnum):
    COMPLETE = "complete"  # every record the search matches is held
    TRUNCATED = "truncated"  # some pages (or entries below `total`) are missing
    ABSENT = "absent"  # not prefetched and not fetched
    FAILED = "failed"  # the prefetch slot held an error and no fetch replaced it


class Missing(StrEnum):
    NONE = "none"
    OLDER = "older"  # sorted newest first, then cut: the newest records are all held
    NEWER = "newer"  # sorted oldest first, then cut: the newest records may be missing
    UNKNOWN = "unknown"  # no date sort: any record may be missing


@dataclass(frozen=True, slots=True)
class SearchStatus:
    """One prefetch key (one search) at the end of the data step."""

    key: str  # the prefetch key, e.g. "medadmins"
    coverage: Coverage = Coverage.COMPLETE
    missing: Missing = Missing.NONE
    words: str = ""  # what the search holds, for people: "medication administrations"
    held: int | None = None
    total: int | None = None

    @property
    def complete(self) -> bool:
        return self.coverage is Coverage.COMPLETE

    @property
    def named(self) -> str:
        """How a card names the search: "medication administrations ('medadmins')"."""
        return f"{self.words or self.key} ('{self.key}')"


@dataclass(frozen=True, slots=True)
class Completeness:
    """The status of every search by prefetch key; a key not listed counts as complete."""

    searches: Mapping[str, SearchStatus] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def of(cls, *statuses: SearchStatus) -> Completeness:
        return cls(MappingProxyType({s.key: s for s in statuses}))

    def status(self, key: str) -> SearchStatus:
        return self.searches.get(key) or SearchStatus(key)

    def incomplete(self) -> tuple[SearchStatus, ...]:
        return tuple(s for s in self.searches.values() if not s.complete)


COMPLETE = Completeness()
