"""The only network I/O of a hook call: fetch missing prefetch keys from the EHR's FHIR server.

Bounded by design: all keys are fetched concurrently over one pooled `requests.Session`, the
whole fallback shares one deadline (`B12CDS_FHIR_TIMEOUT`), bodies are read one socket read at
a time against that deadline and a size cap (a slow-drip server cannot stretch a call), and
`next` links are followed only on the same server and only up to a page cap. The access token
goes only to the request's own `fhirServer`, only over https (or to a loopback/explicitly
allowed host), never through a redirect, and is never logged or kept. "The same server" is
decided on normalised URLs (`normalise_url`: case, default port, percent-escapes, dot
segments), and the normalised URL is the one requested, so a `next` link such as
`.../fhir/../elsewhere` cannot pass the check as text and then be resolved by the HTTP
library to a path outside the base.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urljoin, urlsplit

import orjson
import requests
import urllib3

from cds_service.data.templates import Query
from cds_service.wire.observation import Entry, Observation, Resource

MAX_BODY_BYTES = 20_000_000  # ceiling; a call's own limit is `FhirTarget.max_bytes`
# entries kept per fetched search, over all its pages: the same bound as a prefetched
# Bundle's (protocol.limits.MAX_ARRAY_ITEMS), so what a FHIR server sends costs no more
# to read than what a client may send
MAX_ENTRIES = 10_000
CHUNK = 65_536
CONNECT_TIMEOUT_S = 3.0
WAIT_MARGIN_S = 0.1  # the hook call waits at most the budget plus this
POOL_THREADS = 32  # concurrent calls x keys per call, with room for stalled leftovers
DEFAULT_CONCURRENT_CALLS = 2
AT_CAPACITY = "the FHIR fallback is at capacity (B12CDS_FHIR_CONCURRENCY); retry shortly"
_RESOURCE_TYPE = re.compile(r"^[A-Z][A-Za-z]{1,63}$")


class FetchError(Exception):
    """One key could not be fetched; `reason` is safe to show and log (no token, no data)."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Fetched:
    key: str
    resources: tuple[Resource, ...]
    truncated: bool = False
    pages: int = 1
    stopped: str | None = None  # why paging stopped early (safe words), when truncated
    total: int | None = None  # the first page's `total` (matches on the server), if it gave one


@dataclass(frozen=True, slots=True)
class Continuation:
    """Later pages of a Bundle the client prefetched: start at its `next` link."""

    url: str
    pages_so_far: int = 1


Job = Query | Continuation


@dataclass(frozen=True, slots=True)
class FhirTarget:
    """Where and how to fetch for one hook call."""

    base_url: str  # fhirServer, no trailing slash
    token: str | None = field(default=None, repr=False)
    timeout_s: float = 5.0
    page_cap: int = 10
    allow_http_hosts: tuple[str, ...] = ()
    max_bytes: int = MAX_BODY_BYTES  # per response (the request body limit, from prefetch)
    max_entries: int = MAX_ENTRIES  # per search, over all pages


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_server(base_url: str, allow_http_hosts: Sequence[str] = ()) -> str | None:
    """Why this fhirServer may not be used, or None when it may."""
    try:
        parts = urlsplit(base_url)
        hostname = parts.hostname
        parts.port  # noqa: B018  # raises ValueError on a malformed port
    except ValueError:
        return "fhirServer is not a valid URL"
    if parts.scheme not in ("https", "http") or not hostname:
        return "fhirServer is not an http(s) URL"
    if parts.username or parts.password:
        return "fhirServer must not carry credentials"
    if parts.query or parts.fragment:
        return "fhirServer must not carry a query or fragment"
    if parts.scheme == "http" and not (is_loopback(hostname) or hostname in allow_http_hosts):
        return "fhirServer must use https"
    if normalise_url(base_url) is None:
        return "fhirServer has an ambiguous path (an encoded slash, a backslash or a control character)"
    return None


_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
# in a path, these would let a server see another path than the one compared here
_AMBIGUOUS = re.compile(r"%(2[Ff]|5[Cc]|00)|[\\\x00-\x20\x7f]")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise_url(url: str) -> str | None:
    """`url` as an HTTP server would read it (RFC 3986 section 6), or None if unsafe.

    Scheme and host in lower case, the default port dropped, percent-escapes of
    unreserved characters decoded and the others in upper case, dot segments removed,
    the fragment dropped. None for credentials in the URL, or a path holding an encoded
    slash, backslash, NUL or control character: servers disagree on those, so no check
    made here could tell where such a request would really go. The result is both what is
    compared and what is sent, so the check and the request cannot part ways.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not host or parts.username is not None:
        return None
    if "@" in parts.netloc or _AMBIGUOUS.search(parts.path):
        return None
    host = host.lower()
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    path = _remove_dot_segments(_ESCAPE.sub(_normal_escape, parts.path)) or "/"
    query = _ESCAPE.sub(_normal_escape, parts.query)
    return f"{scheme}://{netloc}{path}" + (f"?{query}" if query else "")


def _normal_escape(match: re.Match[str]) -> str:
    byte = int(match.group(1), 16)
    return chr(byte) if byte in _UNRESERVED else f"%{match.group(1).upper()}"


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4, on a path whose escaped dots are already decoded."""
    output: list[str] = []
    segments = path.split("/")
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == ".":
            if last:
                output.append("")
        elif segment == "..":
            if len(output) > 1:
                output.pop()
            if last:
                output.append("")
        else:
            output.append(segment)
    joined = "/".join(output)
    return joined if joined.startswith("/") or not joined else "/" + joined


def same_server(url: str, base_url: str) -> bool:
    """True if `url` lies under `base_url` once both are normalised (`normalise_url`):
    the same scheme, host and port, and a path at or below the base path."""
    a, b = normalise_url(url), normalise_url(base_url)
    if a is None or b is None:
        return False
    a_parts, b_parts = urlsplit(a), urlsplit(b)
    base_path = b_parts.path.rstrip("/")
    return (a_parts.scheme, a_parts.netloc) == (b_parts.scheme, b_parts.netloc) and (
        a_parts.path == base_path or a_parts.path.startswith(base_path + "/")
    )


def _bound_socket(resp: requests.Response, deadline: float) -> None:
    """Let the next socket read wait no longer than the deadline (best effort)."""
    conn = getattr(resp.raw, "connection", None)
    sock = getattr(conn, "sock", None)
    if isinstance(sock, socket.socket):
        try:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
        except OSError:
            pass


# One response is parsed at a time in a worker, and its entries are cut to the cap before
# the next is parsed: a page of tens of thousands of tiny entries becomes ten times its
# size in objects, so several such pages alive at once would multiply a worker's memory.
_PARSING = threading.Lock()


def _read_json(
    resp: requests.Response, key: str, deadline: float, max_bytes: int, max_entries: int
) -> tuple[Any, bool]:
    """The parsed body, and whether Bundle entries beyond `max_entries` were dropped."""
    declared = resp.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(key, "FHIR response too large")
    size = 0
    chunks: list[bytes] = []
    while True:
        if time.monotonic() > deadline:
            raise FetchError(key, "FHIR server timed out")
        _bound_socket(resp, deadline)
        # one socket read at most, so the deadline is rechecked between reads
        chunk = resp.raw.read1(CHUNK, decode_content=True)
        if not chunk:
            break
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(key, "FHIR response too large")
        chunks.append(chunk)
    raw = b"".join(chunks)
    chunks.clear()
    with _PARSING:
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise FetchError(key, "FHIR server answered with non-JSON") from exc
        del raw
        dropped = False
        entry = body.get("entry") if isinstance(body, dict) else None
        if isinstance(entry, list) and len(entry) > max_entries:
            body["entry"] = entry[:max_entries]
            dropped = True
        del entry
    if time.monotonic() > deadline:  # parsing counts against the one deadline too
        raise FetchError(key, "FHIR server timed out")
    return body, dropped


def _get(
    session: requests.Session,
    url: str,
    params: Sequence[tuple[str, str]] | None,
    target: FhirTarget,
    key: str,
    deadline: float,
) -> tuple[Any, bool]:
    """The parsed answer of one GET, and whether entries beyond the cap were dropped."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise FetchError(key, "FHIR server timed out")
    headers = {"Accept": "application/fhir+json, application/json"}
    if target.token:
        headers["Authorization"] = f"Bearer {target.token}"
    try:
        with session.get(
            url,
            params=params,
            headers=headers,
            timeout=(min(remaining, CONNECT_TIMEOUT_S), remaining),
            stream=True,
            allow_redirects=False,  # a redirect would carry the token elsewhere
        ) as resp:
            if resp.status_code != 200:
                raise FetchError(key, f"FHIR server answered HTTP {resp.status_code}")
            return _read_json(resp, key, deadline, target.max_bytes, target.max_entries)
    except FetchError:
        raise
    except (requests.Timeout, urllib3.exceptions.TimeoutError, TimeoutError) as exc:
        raise FetchError(key, "FHIR server timed out") from exc
    except urllib3.exceptions.HTTPError as exc:  # raised by raw body reads, unwrapped
        if time.monotonic() >= deadline:
            raise FetchError(key, "FHIR server timed out") from exc
        raise FetchError(key, f"FHIR connection failed ({type(exc).__name__})") from exc
    except requests.RequestException as exc:
        if time.monotonic() >= deadline:
            raise FetchError(key, "FHIR server timed out") from exc
        raise FetchError(key, f"FHIR server unreachable ({type(exc).__name__})") from exc
    except OSError as exc:  # a socket error surfacing from a raw read
        raise FetchError(key, f"FHIR connection failed ({type(exc).__name__})") from exc


def _next_link(bundle: Mapping[str, Any]) -> str | None:
    links = bundle.get("link")
    if not isinstance(links, list):
        return None
    for link in links:
        if isinstance(link, dict) and link.get("relation") == "next":
            url = link.get("url")
            return url if isinstance(url, str) and url else None
    return None


def next_link(value: Mapping[str, Any]) -> str | None:
    """The `next` link of a Bundle, or None (also for anything that is not a Bundle)."""
    return _next_link(value) if value.get("resourceType") == "Bundle" else None


def reports_error(bundle: Mapping[str, Any]) -> bool:
    """True if a Bundle carries an OperationOutcome with an error or fatal issue."""
    raw = bundle.get("entry")
    for entry in raw if isinstance(raw, list) else ():
        resource = entry.get("resource") if isinstance(entry, dict) else None  # (typed: none)
        if isinstance(resource, dict) and resource.get("resourceType") == "OperationOutcome":
            issues = resource.get("issue")
            for issue in issues if isinstance(issues, list) else ():
                if isinstance(issue, dict) and issue.get("severity") in ("error", "fatal"):
                    return True
    return False


def entries(bundle: Mapping[str, Any]) -> list[Resource]:
    """The resources of a Bundle, skipping OperationOutcomes and malformed entries."""
    raw = bundle.get("entry")
    if not isinstance(raw, list):
        return []
    # comprehensions: this runs for every prefetched entry of every call
    if raw and type(raw[0]) is Entry:  # an Observation search decoded typed: all entries are
        return [e.resource for e in raw if type(e.resource) is Observation]
    resources = [entry.get("resource") for entry in raw if isinstance(entry, dict)]
    return [
        resource
        for resource in resources
        if type(resource) is Observation
        or (
            isinstance(resource, dict)
            and resource.get("resourceType") not in (None, "OperationOutcome")
        )
    ]


def _kind_words(kind: Any) -> str:
    """A server-chosen resourceType, quoted only when it looks like one."""
    return kind if isinstance(kind, str) and _RESOURCE_TYPE.match(kind) else "something else"


def _page(body: Any, key: str, what: str) -> Mapping[str, Any]:
    """A search result page, or FetchError saying why it is not one."""
    if not isinstance(body, dict) or not isinstance(body.get("resourceType"), str):
        raise FetchError(key, f"FHIR server answered {what} with something that is not a resource")
    kind = body["resourceType"]
    if kind == "OperationOutcome":
        raise FetchError(key, f"FHIR server answered {what} with an OperationOutcome")
    if kind != "Bundle":
        raise FetchError(key, f"FHIR server answered {what} with {_kind_words(kind)}, not a Bundle")
    if reports_error(body):
        raise FetchError(key, f"FHIR server reported an error in {what}")
    return body


def _follow(
    session: requests.Session,
    key: str,
    first_next: str | None,
    found: list[Resource],
    pages: int,
    target: FhirTarget,
    deadline: float,
    total: int | None = None,
) -> Fetched:
    """Follow `next` links from `first_next` until the end, the page or entry cap, or
    another server."""
    next_url = first_next
    while next_url:
        if len(found) >= target.max_entries:
            return Fetched(key, tuple(found), True, pages, "the entry limit was reached", total)
        if pages >= target.page_cap:
            return Fetched(key, tuple(found), True, pages, "the page limit was reached", total)
        url = normalise_url(urljoin(target.base_url + "/", next_url))
        if url is None or not same_server(url, target.base_url):
            return Fetched(
                key, tuple(found), True, pages, "later pages are on another server", total
            )
        # the normalised URL is the one sent: what was checked is where the token goes
        body, dropped = _get(session, url, None, target, key, deadline)
        page = _page(body, key, "a next page")
        pages += 1
        if _take(page, found, target.max_entries) or dropped:
            return Fetched(key, tuple(found), True, pages, "the entry limit was reached", total)
        next_url = _next_link(page)
    return Fetched(key, tuple(found), pages=pages, total=total)


def bundle_total(bundle: Mapping[str, Any]) -> int | None:
    """A searchset's `total` when it is a plain non-negative integer, else None."""
    total = bundle.get("total")
    return total if isinstance(total, int) and not isinstance(total, bool) and total >= 0 else None


def _take(page: Mapping[str, Any], found: list[Resource], cap: int) -> bool:
    """Add the page's resources to `found` up to `cap` in all; True if some were left out."""
    resources = entries(page)
    room = max(0, cap - len(found))
    found.extend(resources[:room])
    return len(resources) > room


def fetch_one(
    session: requests.Session, key: str, job: Job, target: FhirTarget, deadline: float
) -> Fetched:
    if isinstance(job, Continuation):
        return _follow(session, key, job.url, [], job.pages_so_far, target, deadline)
    url = f"{target.base_url.rstrip('/')}/{job.path}"
    body, dropped = _get(session, url, job.params, target, key, deadline)
    expected = job.path.split("/")[0]
    if "/" in job.path:  # an instance read
        if not isinstance(body, dict) or body.get("resourceType") != expected:
            kind = body.get("resourceType") if isinstance(body, dict) else None
            raise FetchError(
                key, f"FHIR server answered the read with {_kind_words(kind)}, not {expected}"
            )
        return Fetched(key, (body,))
    page = _page(body, key, "the search")
    found: list[Resource] = []
    total = bundle_total(page)
    if _take(page, found, target.max_entries) or dropped:
        return Fetched(key, tuple(found), True, 1, "the entry limit was reached", total)
    return _follow(session, key, _next_link(page), found, 1, target, deadline, total)


class FhirFetcher:
    """Concurrent, deadline-bounded fetching; one session and thread pool per worker process.

    Both are made on first use in each process, so an instance built before gunicorn forks
    shares no sockets or threads between workers.
    """

    def __init__(
        self, max_workers: int = POOL_THREADS, max_calls: int = DEFAULT_CONCURRENT_CALLS
    ) -> None:
        self._max_workers = max_workers
        self._max_calls = max_calls
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._session: requests.Session | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._calls = threading.BoundedSemaphore(max_calls)

    def _tools(self) -> tuple[requests.Session, ThreadPoolExecutor]:
        with self._lock:
            if self._pid != os.getpid() or self._session is None or self._executor is None:
                self._calls = threading.BoundedSemaphore(self._max_calls)
                session = requests.Session()
                adapter = requests.adapters.HTTPAdapter(
                    pool_connections=8, pool_maxsize=self._max_workers, max_retries=0
                )
                session.mount("https://", adapter)
                session.mount("http://", adapter)
                session.trust_env = False  # no proxy or netrc credentials picked up by accident
                self._session = session
                self._executor = ThreadPoolExecutor(
                    max_workers=self._max_workers, thread_name_prefix="fhir"
                )
                self._pid = os.getpid()
            return self._session, self._executor

    def fetch(self, jobs: Mapping[str, Job], target: FhirTarget) -> dict[str, Fetched | FetchError]:
        """Every key's result or error; returns within the budget (plus a small margin).

        A bulkhead: at most `max_calls` hook calls of this process wait on a FHIR server
        at once. The calling thread is one of the worker's few application threads, so
        without a bound a slow FHIR server would hold them all and calls that need no
        fallback (full prefetch) would queue behind it. A call over the bound is not
        queued either (that would hold its thread just the same): its keys fail at once
        with `AT_CAPACITY`.
        """
        deadline = time.monotonic() + target.timeout_s
        problem = check_server(target.base_url, target.allow_http_hosts)
        if problem is not None:
            return {key: FetchError(key, problem) for key in jobs}
        # every request goes to the normalised base: the one the checks compared
        target = replace(target, base_url=(normalise_url(target.base_url) or "").rstrip("/"))
        session, executor = self._tools()
        calls = self._calls
        if not calls.acquire(blocking=False):
            return {key: FetchError(key, AT_CAPACITY) for key in jobs}
        try:
            return self._fetch_all(session, executor, jobs, target, deadline)
        finally:
            calls.release()

    def _fetch_all(
        self,
        session: requests.Session,
        executor: ThreadPoolExecutor,
        jobs: Mapping[str, Job],
        target: FhirTarget,
        deadline: float,
    ) -> dict[str, Fetched | FetchError]:
        futures: dict[Future[Fetched], str] = {
            executor.submit(fetch_one, session, key, job, target, deadline): key
            for key, job in jobs.items()
        }
        wait(futures, timeout=max(0.0, deadline - time.monotonic()) + WAIT_MARGIN_S)
        results: dict[str, Fetched | FetchError] = {}
        for future, key in futures.items():
            if not future.done():
                future.cancel()  # a queued job never starts; a running one ends at the deadline
                results[key] = FetchError(key, "FHIR server timed out")
                continue
            error = future.exception()
            if error is None:
                results[key] = future.result()
            elif isinstance(error, FetchError):
                results[key] = error
            else:
                results[key] = FetchError(key, f"FHIR fetch failed ({type(error).__name__})")
        return results

    def close(self) -> None:
        with self._lock:
            if self._executor is not None and self._pid == os.getpid():
                self._executor.shutdown(wait=False, cancel_futures=True)
            if self._session is not None:
                self._session.close()
            self._session = self._executor = self._pid = None
