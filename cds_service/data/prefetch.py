"""Prefetch first, then a bounded fallback to the EHR's FHIR server -> raw resources, or 412.

What each prefetch value means (CDS Hooks 2.0 section "prefetch"):
a Bundle gives its entries, a lone resource gives itself, `null` means "the client has no
such data" (satisfied, never refetched), and an absent key or an OperationOutcome (alone, or
an error inside a Bundle) means "not satisfied": the key's own published template is filled
from the context and fetched from `fhirServer`, all such keys at once, within one budget.
A prefetched Bundle with a `next` link has its later pages read from `fhirServer` too.

Required data that cannot be had is a 412 naming the keys and the reason (never the token,
never patient data). `patient` is optional: without it only wording suffers, so losing it
is a note. Notes become card caveats (what could not be read in full).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cds_service.data.fhir_client import (
    Continuation,
    FetchError,
    FhirFetcher,
    FhirTarget,
    Job,
    check_server,
    entries,
    next_link,
    reports_error,
)
from cds_service.data.templates import TemplateError, fill
from cds_service.protocol.catalog import ServiceDefinition
from cds_service.protocol.errors import DataUnavailable
from cds_service.protocol.request import HookRequest
from cds_service.settings import Settings

log = logging.getLogger(__name__)

# Keys a rule can do without: a missing one costs wording, not safety.
OPTIONAL_KEYS = frozenset({"patient"})
# Words a clinician reads in a caveat, by prefetch key.
KEY_WORDS = {
    "patient": "patient details",
    "conditions": "conditions",
    "procedures": "procedures",
    "medrequests": "medication orders",
    "medstatements": "medication statements",
    "medadmins": "medication administrations",
    "labs": "laboratory results",
}
NOT_ALLOWED = "fhirServer not allowed for this client"
OFFLINE = "this run does not fetch from fhirServer (offline evaluation)"
NO_SERVER = "no fhirServer to fetch them from"


@dataclass(frozen=True, slots=True)
class RawData:
    resources: tuple[Mapping[str, Any], ...]
    notes: tuple[str, ...]  # words for a card: what could not be read in full
    keys_present: frozenset[str]
    fetches: tuple[str, ...] = ()  # one outcome per key fetched from fhirServer (metrics)


class DataMissing(DataUnavailable):
    """412 for required data; carries the fetch outcomes so the edge can still count them."""

    def __init__(self, diagnostics: str, fetches: tuple[str, ...]) -> None:
        super().__init__(diagnostics)
        self.fetches = fetches


def fetch_outcome(reason: str | None) -> str:
    """A small, data-free label for a fetch result: ok, timeout, unauthorized, ..."""
    if reason is None:
        return "ok"
    if "at capacity" in reason:
        return "busy"
    if "timed out" in reason:
        return "timeout"
    if "HTTP 401" in reason or "HTTP 403" in reason:
        return "unauthorized"
    if "HTTP 404" in reason:
        return "not-found"
    if "non-JSON" in reason or " not " in reason:
        return "bad-response"
    return "error"


def gather(
    request: HookRequest,
    service: ServiceDefinition,
    *,
    fetcher: FhirFetcher | None = None,
    settings: Settings | None = None,
    allowed_servers: Sequence[str] | None = None,
) -> RawData:
    """Collect the resources `service` needs for `request`.

    Without a `fetcher` nothing is fetched (offline). `allowed_servers`, when given, is the
    only list of fhirServer bases this caller may make the service contact.
    """
    settings = settings or Settings()
    supplied = request.prefetch or {}
    resources: list[Mapping[str, Any]] = []
    notes: list[str] = []
    present: set[str] = set()
    jobs: dict[str, Job] = {}
    unfillable: dict[str, str] = {}
    for key, template in service.prefetch.items():
        value = supplied.get(key, _ABSENT)
        if value is _ABSENT or not _satisfies(value):
            try:
                jobs[key] = fill(template, request.context)
            except TemplateError as exc:
                unfillable[key] = str(exc)
            continue
        present.add(key)
        if value is None:
            continue
        resources.extend(_flatten(value))
        url = next_link(value)
        if url is not None:
            jobs[key] = Continuation(url)

    problem = _server_problem(request, settings, fetcher, allowed_servers) if jobs else None
    failed: dict[str, str] = {k: v for k, v in unfillable.items() if k not in OPTIONAL_KEYS}
    if problem is not None:
        for key, job in jobs.items():
            if isinstance(job, Continuation):
                notes.append(_first_page_note(key))
            elif key not in OPTIONAL_KEYS:
                failed[key] = problem
            elif request.fhir_server is not None:
                notes.append(_unavailable_note(key))
    fetches: list[str] = []
    if problem is None and jobs and fetcher is not None:  # (no fetcher is a problem above)
        results = _fetch(fetcher, jobs, request, settings)
        for key, result in results.items():
            fetches.append(fetch_outcome(result.reason if isinstance(result, FetchError) else None))
            continuing = isinstance(jobs[key], Continuation)
            if isinstance(result, FetchError):
                log.warning("fhir_fetch_failed", extra={"error_type": result.reason})
                if continuing:
                    notes.append(_first_page_note(key))
                elif key in OPTIONAL_KEYS:
                    notes.append(_unavailable_note(key))
                else:
                    failed[key] = result.reason
                continue
            present.add(key)
            resources.extend(result.resources)
            if result.truncated:
                notes.append(_truncated_note(key, result.pages, result.stopped))
    if failed:
        raise DataMissing(_missing_message(failed), tuple(fetches))
    return RawData(tuple(resources), tuple(notes), frozenset(present), tuple(fetches))


_ABSENT: Any = object()


def _satisfies(value: Any) -> bool:
    """False for what counts as "not prefetched": an OperationOutcome or an error Bundle."""
    if value is None:
        return True
    if not isinstance(value, Mapping):
        return False
    kind = value.get("resourceType")
    if kind == "OperationOutcome":
        return False
    return not (kind == "Bundle" and reports_error(value))


def _flatten(value: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    if value.get("resourceType") != "Bundle":
        yield value
        return
    yield from entries(value)


def _server_problem(
    request: HookRequest,
    settings: Settings,
    fetcher: FhirFetcher | None,
    allowed_servers: Sequence[str] | None,
) -> str | None:
    """Why nothing may be fetched for this request, or None; checked before any request."""
    server = request.fhir_server
    if server is None:
        return NO_SERVER
    if allowed_servers is not None and server.rstrip("/") not in {
        s.rstrip("/") for s in allowed_servers
    }:
        return NOT_ALLOWED
    problem = check_server(server, settings.fhir_allow_http_hosts)
    if problem is not None:
        return problem
    if fetcher is None:
        return OFFLINE
    return None


def _fetch(
    fetcher: FhirFetcher, jobs: Mapping[str, Job], request: HookRequest, settings: Settings
) -> Mapping[str, Any]:
    auth = request.fhir_authorization
    target = FhirTarget(
        base_url=request.fhir_server or "",
        token=auth.access_token if auth is not None and auth.access_token else None,
        timeout_s=settings.fhir_timeout,
        page_cap=settings.fhir_page_cap,
        allow_http_hosts=settings.fhir_allow_http_hosts,
        max_bytes=settings.max_body_bytes,  # a page may be as large as a whole request
    )
    started = time.perf_counter()
    results = fetcher.fetch(jobs, target)
    log.info(
        "fhir_fallback",
        extra={"duration_ms": round((time.perf_counter() - started) * 1000, 2)},
    )
    return results


def _words(key: str) -> str:
    words = KEY_WORDS.get(key, key)
    return f"'{key}'" if words == key else f"{words} ('{key}')"


def _first_page_note(key: str) -> str:
    return (
        f"Only the first page of prefetch {_words(key)} was supplied; "
        "later pages were not read, so older records may be missing."
    )


def _unavailable_note(key: str) -> str:
    return f"The {KEY_WORDS.get(key, key)} could not be read from the FHIR server."


def _truncated_note(key: str, pages: int, stopped: str | None) -> str:
    why = f" ({stopped})" if stopped else ""
    return (
        f"Data truncated: only {pages} page(s) of {_words(key)} were read from the FHIR "
        f"server{why}; older records may be missing."
    )


def _missing_message(failed: Mapping[str, str]) -> str:
    """'keys' grouped by reason; reasons are fixed phrases, never data or the token."""
    by_reason: dict[str, list[str]] = {}
    for key in sorted(failed):
        by_reason.setdefault(failed[key], []).append(f"'{key}'")
    parts = [f"{', '.join(keys)}: {reason}" for reason, keys in by_reason.items()]
    return "required prefetch key(s) missing or failed and not fetched: " + "; ".join(parts)
