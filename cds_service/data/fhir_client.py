"""The only network I/O of a hook call: fetch missing prefetch keys from the EHR's FHIR server.

Bounded by design: all keys are fetched concurrently over one pooled `requests.Session`, the
whole fallback shares one deadline (`B12CDS_FHIR_TIMEOUT`), bodies are read in chunks against
that deadline and a size cap, and `next` links are followed only on the same server and only up
to a page cap. The access token goes only to the request's own `fhirServer`, only over https
(or to a loopback/explicitly allowed host), and is never logged or kept.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests

from cds_service.data.templates import Query

MAX_BODY_BYTES = 20_000_000
CHUNK = 65_536


class FetchError(Exception):
    """One key could not be fetched; `reason` is safe to show and log (no token, no data)."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Fetched:
    key: str
    resources: tuple[Mapping[str, Any], ...]
    truncated: bool = False
    pages: int = 1


@dataclass(frozen=True, slots=True)
class FhirTarget:
    """Where and how to fetch for one hook call."""

    base_url: str  # fhirServer, no trailing slash
    token: str | None = field(default=None, repr=False)
    timeout_s: float = 5.0
    page_cap: int = 10


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_server(base_url: str, allow_http_hosts: Sequence[str] = ()) -> str | None:
    """Why this fhirServer may not be used, or None when it may."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "fhirServer is not an http(s) URL"
    if parts.username or parts.password:
        return "fhirServer must not carry credentials"
    if parts.scheme == "http" and not (
        is_loopback(parts.hostname) or parts.hostname in allow_http_hosts
    ):
        return "fhirServer must use https"
    return None


def _same_server(url: str, base_url: str) -> bool:
    a, b = urlsplit(url), urlsplit(base_url)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc) and a.path.startswith(b.path.rstrip("/"))


def _read_json(resp: requests.Response, key: str, deadline: float) -> Any:
    size = 0
    chunks: list[bytes] = []
    for chunk in resp.iter_content(CHUNK):
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise FetchError(key, "FHIR response too large")
        if time.monotonic() > deadline:
            raise FetchError(key, "FHIR server timed out")
        chunks.append(chunk)
    try:
        return orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError as exc:
        raise FetchError(key, "FHIR server answered with non-JSON") from exc


def _get(
    session: requests.Session,
    url: str,
    params: Sequence[tuple[str, str]] | None,
    target: FhirTarget,
    key: str,
    deadline: float,
) -> Any:
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
            timeout=(min(remaining, 3.0), remaining),
            stream=True,
            allow_redirects=False,
        ) as resp:
            if resp.status_code != 200:
                raise FetchError(key, f"FHIR server answered HTTP {resp.status_code}")
            return _read_json(resp, key, deadline)
    except requests.Timeout as exc:
        raise FetchError(key, "FHIR server timed out") from exc
    except requests.RequestException as exc:
        raise FetchError(key, f"FHIR server unreachable ({type(exc).__name__})") from exc


def _next_link(bundle: Mapping[str, Any]) -> str | None:
    links = bundle.get("link")
    if not isinstance(links, list):
        return None
    for link in links:
        if isinstance(link, dict) and link.get("relation") == "next":
            url = link.get("url")
            return url if isinstance(url, str) and url else None
    return None


def entries(bundle: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The resources of a Bundle, skipping OperationOutcomes and malformed entries."""
    found: list[Mapping[str, Any]] = []
    raw = bundle.get("entry")
    for entry in raw if isinstance(raw, list) else ():
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and resource.get("resourceType") not in (
            None,
            "OperationOutcome",
        ):
            found.append(resource)
    return found


def fetch_one(
    session: requests.Session, key: str, query: Query, target: FhirTarget, deadline: float
) -> Fetched:
    url = f"{target.base_url.rstrip('/')}/{query.path}"
    body = _get(session, url, query.params, target, key, deadline)
    if not isinstance(body, dict) or not isinstance(body.get("resourceType"), str):
        raise FetchError(key, "FHIR server answered with something that is not a resource")
    kind = body["resourceType"]
    if kind == "OperationOutcome":
        raise FetchError(key, "FHIR server answered with an OperationOutcome")
    if kind != "Bundle":
        expected = query.path.split("/")[0]
        if kind != expected:
            raise FetchError(key, f"FHIR server answered with {kind}, not {expected}")
        return Fetched(key, (body,))
    found = entries(body)
    pages = 1
    next_url = _next_link(body)
    while next_url:
        if pages >= target.page_cap:
            return Fetched(key, tuple(found), truncated=True, pages=pages)
        if not _same_server(next_url, target.base_url):
            raise FetchError(key, "FHIR next link points to another server")
        page = _get(session, next_url, None, target, key, deadline)
        if not isinstance(page, dict) or page.get("resourceType") != "Bundle":
            raise FetchError(key, "FHIR next page is not a Bundle")
        found.extend(entries(page))
        pages += 1
        next_url = _next_link(page)
    return Fetched(key, tuple(found), pages=pages)


class FhirFetcher:
    """Concurrent, deadline-bounded fetching; one instance (and session) per worker process."""

    def __init__(self, max_workers: int = 8) -> None:
        self.session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=8, pool_maxsize=16, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.trust_env = False  # no proxy or netrc credentials picked up by accident
        self.executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="fhir")

    def fetch(self, queries: Mapping[str, Query], target: FhirTarget) -> dict[str, Fetched]:
        """Fetch every key or raise the first FetchError; never longer than the budget."""
        deadline = time.monotonic() + target.timeout_s
        futures: dict[Future[Fetched], str] = {
            self.executor.submit(fetch_one, self.session, key, query, target, deadline): key
            for key, query in queries.items()
        }
        done, pending = wait(futures, timeout=target.timeout_s + 0.05, return_when=FIRST_EXCEPTION)
        for future in done:
            error = future.exception()
            if error is not None:
                for other in pending:
                    other.cancel()
                if isinstance(error, FetchError):
                    raise error
                raise FetchError(futures[future], f"FHIR fetch failed ({type(error).__name__})")
        if pending:
            for other in pending:
                other.cancel()
            raise FetchError(futures[next(iter(pending))], "FHIR server timed out")
        return {futures[f]: f.result() for f in done}
