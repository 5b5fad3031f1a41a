"""Prefetch -> the raw resources a hook call can use, or 412 when required data is missing.

What each prefetch value means (CDS Hooks 2.0 section "prefetch"):
a Bundle gives its entries, a lone resource gives itself, `null` means "the client has no
such data" (satisfied, nothing to read), and an absent key or an OperationOutcome means
"not satisfied". Unsatisfied keys would be fetched from `fhirServer`; this first version
has no fetcher yet, so any unsatisfied key but `patient` is a 412 naming the keys.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from cds_service.protocol.catalog import ServiceDefinition
from cds_service.protocol.errors import DataUnavailable
from cds_service.protocol.request import HookRequest

# Keys a rule can do without: a missing one costs wording, not safety.
OPTIONAL_KEYS = frozenset({"patient"})


@dataclass(frozen=True, slots=True)
class RawData:
    resources: tuple[Mapping[str, Any], ...]
    notes: tuple[str, ...]  # words for a card: what could not be read in full
    keys_present: frozenset[str]


def gather(request: HookRequest, service: ServiceDefinition) -> RawData:
    """Collect the resources `service` needs for `request`."""
    supplied = request.prefetch or {}
    resources: list[Mapping[str, Any]] = []
    notes: list[str] = []
    present: set[str] = set()
    missing: list[str] = []
    for key in service.prefetch:
        value = supplied.get(key) if key in supplied else _ABSENT
        if value is _ABSENT or _is_outcome(value):
            if key not in OPTIONAL_KEYS:
                missing.append(key)
            continue
        present.add(key)
        if value is None:
            continue
        resources.extend(_flatten(value))
        if _has_next_page(value):
            notes.append(
                f"Only the first page of prefetch '{key}' was supplied; later pages were not read."
            )
    if missing:
        raise DataUnavailable(_missing_message(missing, request))
    return RawData(tuple(resources), tuple(notes), frozenset(present))


_ABSENT: Any = object()


def _is_outcome(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get("resourceType") == "OperationOutcome"


def _flatten(value: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    if value.get("resourceType") != "Bundle":
        yield value
        return
    entries = value.get("entry")
    for entry in entries if isinstance(entries, list) else ():
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        if isinstance(resource, Mapping) and not _is_outcome(resource):
            yield resource


def _has_next_page(value: Mapping[str, Any]) -> bool:
    links = value.get("link") if value.get("resourceType") == "Bundle" else None
    return isinstance(links, list) and any(
        isinstance(link, Mapping) and link.get("relation") == "next" for link in links
    )


def _missing_message(keys: list[str], request: HookRequest) -> str:
    named = ", ".join(f"'{k}'" for k in keys)
    if request.fhir_server is None:
        return f"prefetch key(s) {named} missing or failed, and no fhirServer to fetch them from"
    return (
        f"prefetch key(s) {named} missing or failed; "
        "fetching from fhirServer is not supported by this version"
    )
