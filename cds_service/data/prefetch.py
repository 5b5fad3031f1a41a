"""Prefetch first, then a bounded fallback to the EHR's FHIR server -> raw resources, or 412.

What each prefetch value means (CDS Hooks 2.0 section "prefetch"):
a Bundle gives its entries, a lone resource gives itself, `null` means "the client has no
such data" (satisfied, never refetched), and an absent key or an OperationOutcome (alone, or
an error inside a Bundle) means "not satisfied": the key's own published template is filled
from the context and fetched from `fhirServer`, all such keys at once, within one budget.
A prefetched Bundle with a `next` link has its later pages read from `fhirServer` too.

A prefetched Bundle whose `total` is above its entries, with no link to follow, is searched
again in full. Every key ends with a `KeyReport` (`data.completeness`): complete, truncated
(and whether the older, the newer or unknown records are missing, from the search's sort),
absent or failed; the edge hands these to the rules, which must not raise an alarm on the
absence of records that were cut.

Required data that cannot be had is a 412 naming the keys and the reason (never the token,
never patient data). `patient` is optional: without it only wording suffers, so losing it
is a note. Notes become card caveats (which search could not be read in full, and how).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl

from cds_service.data.completeness import (
    KeyReport,
    Missing,
    State,
    counted_for_total,
    matches,
    missing_direction,
    self_params,
)
from cds_service.data.fhir_client import (
    Continuation,
    Fetched,
    FetchError,
    FhirFetcher,
    FhirTarget,
    Job,
    bundle_total,
    check_server,
    entries,
    next_link,
    reports_error,
)
from cds_service.data.references import (
    MAX_MEDICATION_READS,
    MEDICATION_USERS,
    draft_resources,
    reads,
    unresolved,
)
from cds_service.data.scopes import Access, parse_scope
from cds_service.data.templates import Query, TemplateError, fill
from cds_service.protocol.catalog import ServiceDefinition
from cds_service.protocol.errors import DataUnavailable
from cds_service.protocol.request import HookRequest
from cds_service.settings import Settings
from cds_service.wire.observation import Resource

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
MIN_BUDGET_S = 0.05  # below this, a second round of Medication reads is not started
NOT_ALLOWED = "fhirServer not allowed for this client"
OFFLINE = "this run does not fetch from fhirServer (offline evaluation)"
NO_SERVER = "no fhirServer to fetch them from"


@dataclass(frozen=True, slots=True)
class RawData:
    resources: tuple[Resource, ...]
    notes: tuple[str, ...]  # words for a card: what could not be read in full
    keys_present: frozenset[str]
    fetches: tuple[str, ...] = ()  # one outcome per key fetched from fhirServer (metrics)
    reports: tuple[KeyReport, ...] = ()  # per key: complete, truncated (which way), absent, failed
    medications: tuple[
        Mapping[str, Any], ...
    ] = ()  # Medications read by reference (also in resources)


class DataMissing(DataUnavailable):
    """412 for required data; carries the fetch outcomes so the edge can still count them."""

    def __init__(self, diagnostics: str, fetches: tuple[str, ...]) -> None:
        super().__init__(diagnostics)
        self.fetches = fetches


@dataclass(frozen=True, slots=True)
class _Partial:
    """What the prefetch already gave for a key whose search is not complete yet."""

    held: int
    total: int | None
    missing: Missing
    how: str  # why the prefetch alone is not all of it
    refetch: bool = False  # the job runs the whole search again (no `next` link to follow)


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
    """Collect the resources `service` needs for `request`, and how complete each key is.

    Without a `fetcher` nothing is fetched (offline). `allowed_servers`, when given, is the
    only list of fhirServer bases this caller may make the service contact.
    """
    settings = settings or Settings()
    supplied = request.prefetch or {}
    resources: list[Resource] = []
    present: set[str] = set()
    jobs: dict[str, Job] = {}
    unfillable: dict[str, str] = {}
    arrived: dict[str, State] = {}  # keys to fetch afresh: "absent" or "failed" as they came
    partial: dict[str, _Partial] = {}
    reports: dict[str, KeyReport] = {}
    kinds: dict[str, str] = {}  # the searched type ("Observation"), or a read's path
    by_key: dict[str, list[Resource]] = {}  # what each key brought, prefetch and fetch
    medication_side: list[Mapping[str, Any]] = []  # what may name or be a Medication
    for key, template in service.prefetch.items():
        kind = kinds[key] = template.partition("?")[0]
        value = supplied.get(key, _ABSENT)
        if value is _ABSENT or not _satisfies(value):
            arrived[key] = "absent" if value is _ABSENT else "failed"
            try:
                jobs[key] = fill(template, request.context)
            except TemplateError as exc:
                unfillable[key] = str(exc)
            continue
        present.add(key)
        if value is None or value.get("resourceType") != "Bundle":
            if value is not None:
                resources.append(value)
            reports[key] = KeyReport(key, _key_words(key), "complete", held=int(value is not None))
            continue
        page = entries(value)
        resources.extend(page)
        by_key[key] = list(page)
        if kind in MEDICATION_USERS:
            medication_side.extend(r for r in page if isinstance(r, Mapping))
        held, total = matches(page, kind), bundle_total(value)
        url = next_link(value)
        if url is None and (total is None or total <= counted_for_total(value, held)):
            reports[key] = KeyReport(key, _key_words(key), "complete", held=held, total=total)
            continue
        # the client ran our template (CDS Hooks: equivalent data) unless it says otherwise
        params = self_params(value) or list(_template_params(template))
        if url is not None:
            jobs[key] = Continuation(url)
            partial[key] = _Partial(
                held, total, missing_direction(kind, params), "only the first page was supplied"
            )
            continue
        try:
            jobs[key] = fill(template, request.context)  # no link: run the whole search again
        except TemplateError:
            reports[key] = KeyReport(
                key,
                _key_words(key),
                "truncated",
                missing_direction(kind, params),
                held,
                total,
                "the prefetched Bundle holds fewer entries than its total",
            )
            continue
        partial[key] = _Partial(
            held,
            total,
            missing_direction(kind, params),
            "the prefetched Bundle holds fewer entries than its total",
            refetch=True,
        )

    drafts = draft_resources(request.draft_orders)
    named = unresolved([*drafts, *medication_side], request.fhir_server)
    wanted = bool(jobs or named)
    problem = _server_problem(request, settings, fetcher, allowed_servers) if wanted else None
    auth = request.fhir_authorization
    access = parse_scope(auth.scope if auth is not None else None)
    if problem is None:
        for key in [k for k in jobs if not _allowed(access, kinds[k])]:
            unfillable[key] = _refusal(kinds[key])
            arrived.setdefault(key, "failed")
            del jobs[key]
            if key in partial:
                reports[key] = _cut(
                    key, partial.pop(key), f"the rest was not fetched ({unfillable.pop(key)})"
                )
        if not access.allows("Medication", search=False):
            named = {}
    failed: dict[str, str] = {}
    for key, reason in unfillable.items():
        if key in OPTIONAL_KEYS:
            reports[key] = KeyReport(key, _key_words(key), arrived[key], why=reason)
        else:
            failed[key] = reason
    if problem is not None:
        for key in jobs:
            if key in partial:
                reports[key] = _cut(key, partial[key], f"later pages were not fetched ({problem})")
            elif key in OPTIONAL_KEYS:
                reports[key] = KeyReport(key, _key_words(key), arrived[key], why=problem)
            else:
                failed[key] = problem
    fetches: list[str] = []
    medications: list[Mapping[str, Any]] = []
    if problem is None and wanted and fetcher is not None:  # (no fetcher is a problem above)
        started = time.monotonic()
        asked = list(named)[:MAX_MEDICATION_READS]
        results = _fetch(fetcher, {**jobs, **reads(asked)}, request, settings)
        for key, result in results.items():
            fetches.append(fetch_outcome(result.reason if isinstance(result, FetchError) else None))
            if key not in jobs:  # a Medication read: missing, it leaves its orders unknown
                if isinstance(result, Fetched):
                    medications.extend(r for r in result.resources if isinstance(r, Mapping))
                continue
            if isinstance(result, FetchError):
                log.warning("fhir_fetch_failed", extra={"error_type": result.reason})
                if key in partial:
                    why = f"the rest could not be fetched ({result.reason})"
                    reports[key] = _cut(key, partial[key], why)
                elif key in OPTIONAL_KEYS:
                    reports[key] = KeyReport(key, _key_words(key), arrived[key], why=result.reason)
                else:
                    failed[key] = result.reason
                continue
            present.add(key)
            resources.extend(result.resources)
            by_key.setdefault(key, []).extend(result.resources)
            if kinds[key] in MEDICATION_USERS:
                medication_side.extend(r for r in result.resources if isinstance(r, Mapping))
            reports[key] = _fetched_report(key, kinds[key], jobs[key], result, partial.get(key))
            narrowed = access.narrowing(kinds[key], search=True) if "/" not in kinds[key] else None
            if narrowed is not None and reports[key].complete:
                why = f"the access token's scope limits it to {narrowed}"
                reports[key] = replace(reports[key], state="truncated", missing="unknown", why=why)
        # orders fetched just now may name Medications the search did not include
        later = [
            i
            for i in unresolved([*drafts, *medication_side, *medications], request.fhir_server)
            if i not in asked
        ][: MAX_MEDICATION_READS - len(asked)]
        left = settings.fhir_timeout - (time.monotonic() - started)
        if later and left > MIN_BUDGET_S:
            for result in _fetch(fetcher, reads(later), request, settings, left).values():
                fetches.append(
                    fetch_outcome(result.reason if isinstance(result, FetchError) else None)
                )
                if isinstance(result, Fetched):
                    medications.extend(r for r in result.resources if isinstance(r, Mapping))
    resources.extend(medications)
    if named or fetches:  # (nothing named and nothing fetched: nothing can be unresolved)
        _mark_unknown_drugs(reports, by_key, [*medication_side, *medications], request.fhir_server)
    if failed:
        raise DataMissing(_missing_message(failed), tuple(fetches))
    ordered = tuple(reports[k] for k in service.prefetch if k in reports)
    notes = tuple(
        r.note()
        for r in ordered
        # an optional key nobody could fetch is no news (no fhirServer: nothing was expected)
        if not r.complete and not (r.state == "absent" and request.fhir_server is None)
    )
    return RawData(
        tuple(resources), notes, frozenset(present), tuple(fetches), ordered, tuple(medications)
    )


def _mark_unknown_drugs(
    reports: dict[str, KeyReport],
    by_key: Mapping[str, list[Resource]],
    resources: list[Mapping[str, Any]],
    base_url: str | None,
) -> None:
    """A key whose records name a Medication nobody could read holds records of an unknown
    drug: for the rules, records that may be missing (any of them, whatever the sort)."""
    named = unresolved(resources, base_url)
    if not named:
        return
    users = {id(r) for group in named.values() for r in group}
    for key, found in by_key.items():
        unknown = sum(1 for r in found if id(r) in users)
        report = reports.get(key)
        if unknown and report is not None and report.state in ("complete", "truncated"):
            reports[key] = replace(report, state="truncated", missing="unknown", unreadable=unknown)


def _allowed(access: Access, kind: str) -> bool:
    """May the token read what `kind` (a searched type, or a read's "Type/{{...}}") needs?"""
    resource_type, _, rest = kind.partition("/")
    return access.allows(resource_type, search=not rest)


def _refusal(kind: str) -> str:
    resource_type, _, rest = kind.partition("/")
    return f"fhirAuthorization.scope does not allow {'reading' if rest else 'searching'} {resource_type}"


@lru_cache(maxsize=64)
def _template_params(template: str) -> tuple[tuple[str, str], ...]:
    """A template's query parameters as written (tokens unfilled: only `_sort` is read)."""
    return tuple(parse_qsl(template.partition("?")[2], keep_blank_values=True))


def _key_words(key: str) -> str:
    return KEY_WORDS.get(key, key)


def _cut(key: str, part: _Partial, what_happened: str) -> KeyReport:
    """A key the prefetch gave only in part, and that part is all there is."""
    return KeyReport(
        key,
        _key_words(key),
        "truncated",
        part.missing,
        part.held,
        part.total,
        f"{part.how}, and {what_happened}",
    )


def _fetched_report(
    key: str, kind: str, job: Job, result: Fetched, part: _Partial | None
) -> KeyReport:
    """A key after its fetch: complete, or cut by the page cap or a foreign `next` link."""
    found = 1 if "/" in kind else matches(result.resources, kind)  # a read is one resource
    if part is not None and not part.refetch:  # later pages of a prefetched first page
        held, total = part.held + found, part.total
    else:
        held, total = found, result.total
    if not result.truncated:
        return KeyReport(key, _key_words(key), "complete", held=held, total=total)
    if part is not None:
        missing = part.missing
    else:
        missing = missing_direction(kind, job.params if isinstance(job, Query) else ())
    why = f"{result.pages} page(s) were read from the FHIR server, then {result.stopped}"
    return KeyReport(key, _key_words(key), "truncated", missing, held, total, why)


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
    fetcher: FhirFetcher,
    jobs: Mapping[str, Job],
    request: HookRequest,
    settings: Settings,
    budget_s: float | None = None,
) -> Mapping[str, Any]:
    auth = request.fhir_authorization
    target = FhirTarget(
        base_url=request.fhir_server or "",
        token=auth.access_token if auth is not None and auth.access_token else None,
        timeout_s=settings.fhir_timeout if budget_s is None else budget_s,
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


def _missing_message(failed: Mapping[str, str]) -> str:
    """'keys' grouped by reason; reasons are fixed phrases, never data or the token."""
    by_reason: dict[str, list[str]] = {}
    for key in sorted(failed):
        by_reason.setdefault(failed[key], []).append(f"'{key}'")
    parts = [f"{', '.join(keys)}: {reason}" for reason, keys in by_reason.items()]
    return "required prefetch key(s) missing or failed and not fetched: " + "; ".join(parts)
