"""How much of each prefetch key (or fetched search) the service holds, and what is missing.

Every key ends a hook call in one of four states:

- complete: a read, a `null` ("no such data"), or a search whose every page was read;
- truncated: a `next` link that was not (or could not be) followed, or a `total` above the
  entries held. Which records are missing follows from the search's sort: newest first
  (`_sort=-date`, ...) cuts the OLDER records, oldest first the NEWER ones, and without a
  sort it is unknown which;
- absent: not prefetched and not fetched (only an optional key gets this far: a required
  one is a 412);
- failed: an OperationOutcome, or an error in the prefetch slot, that could not be replaced
  by a fetch (again only an optional key; a required one is a 412).

The words (`note`) are what a clinician reads in a card's caveat: which search was cut, how
much of it was read, and in which direction it is incomplete. They never carry data or ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

from cds_service.wire.observation import Entry, Resource

State = Literal["complete", "truncated", "absent", "failed"]
Missing = Literal["none", "older", "newer", "unknown"]

# R4 search parameters that sort by the clinical date the rules count with, per type. A sort
# on anything else (e.g. `_lastUpdated`) says nothing about which clinical records are missing.
DATE_SORTS: Mapping[str, frozenset[str]] = {
    "Observation": frozenset({"date"}),
    "Condition": frozenset({"recorded-date", "onset-date"}),
    "Procedure": frozenset({"date"}),
    "MedicationRequest": frozenset({"authoredon"}),
    "MedicationStatement": frozenset({"effective"}),
    "MedicationAdministration": frozenset({"effective-time"}),
}


@dataclass(frozen=True, slots=True)
class KeyReport:
    """What one prefetch key held at the end of the data step."""

    key: str
    words: str  # "medication administrations", for people
    state: State
    missing: Missing = "none"
    held: int | None = None  # matching entries held (included resources not counted)
    total: int | None = None  # the server's `total`, when it gave one
    why: str | None = None  # safe words: why it is not complete
    unreadable: int = 0  # records held that name a Medication nobody could read

    @property
    def complete(self) -> bool:
        return self.state == "complete"

    def note(self) -> str:
        """The caveat a card shows for this key (empty when complete)."""
        if self.state == "complete":
            return ""
        named = f"{self.words} ('{self.key}')"
        if self.unreadable and self.why is None:  # every page read, some drugs unknown
            return (
                f"Records incomplete: {named}, {self.unreadable} of {self.held} name a "
                "Medication that could not be read, so what they are is unknown."
            )
        if self.state == "truncated":
            count = f"{self.held} of {self.total}" if self.total is not None else f"{self.held}"
            unknown = (
                f"; {self.unreadable} of them name a Medication that could not be read"
                if self.unreadable
                else ""
            )
            return (
                f"Records incomplete: {named}, {count} read; {self.why or 'later pages not read'}"
                f"{unknown}; {DIRECTION_WORDS[self.missing]}."
            )
        if self.state == "failed":
            return f"The {self.words} could not be read ({self.why or 'the prefetch reported an error'})."
        return f"The {self.words} could not be read ({self.why or 'not prefetched'})."


DIRECTION_WORDS: Mapping[Missing, str] = {
    "older": "the search was sorted newest first, so older records are missing",
    "newer": "the search was sorted oldest first, so newer records are missing",
    "unknown": "the search had no date sort, so it is unknown whether older or newer records are missing",
    "none": "nothing is missing",
}


def missing_direction(resource_type: str, params: Iterable[tuple[str, str]]) -> Missing:
    """Which records a cut search lacks, from its first `_sort` key."""
    sort = next((value for name, value in params if name == "_sort"), "")
    first = sort.split(",")[0].strip()
    name = first.removeprefix("-")
    if not name or name not in DATE_SORTS.get(resource_type, frozenset()):
        return "unknown"
    return "older" if first.startswith("-") else "newer"


def self_params(bundle: Mapping[str, Any]) -> list[tuple[str, str]] | None:
    """The query parameters of a Bundle's `self` link (how the server ran it), or None."""
    links = bundle.get("link")
    for link in links if isinstance(links, list) else ():
        if isinstance(link, dict) and link.get("relation") == "self":
            url = link.get("url")
            if isinstance(url, str) and len(url) <= 8192:
                try:
                    return parse_qsl(urlsplit(url).query, keep_blank_values=True)
                except ValueError:
                    return None
    return None


def counted_for_total(bundle: Mapping[str, Any], held: int) -> int:
    """The entries a Bundle's `total` is to be compared with: its `match` entries when it marks
    `search.mode`, else every entry (clients that leave modes out also count an `_include`d
    Medication in `total`; read strictly, their complete Bundles would look cut)."""
    raw = bundle.get("entry")
    listed = raw if isinstance(raw, list) else []
    if listed and type(listed[0]) is Entry:  # decoded typed (`protocol.body`)
        typed = [e.mode for e in listed if e.has_search]
        if typed:
            return sum(1 for mode in typed if mode == "match")
        return max(held, len(listed))
    modes = [
        e["search"].get("mode")
        for e in listed
        if isinstance(e, dict) and isinstance(e.get("search"), dict)
    ]
    if modes:
        return sum(1 for mode in modes if mode == "match")
    return max(held, len(listed))


def matches(resources: Sequence[Resource], resource_type: str) -> int:
    """Entries of the searched type (an `_include`d Medication is not a match)."""
    return sum(1 for r in resources if r.get("resourceType") == resource_type)
