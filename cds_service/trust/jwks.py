"""Fetched JWK Sets (a client's `jwks_url`, or an allow-listed `jku`), cached per worker.

Only URLs from the trust file are ever fetched; the caller checks that. A set is fetched
with a timeout and a size cap, kept for `ttl` seconds, and fetched again early when a
token names a kid it lacks (key rotation) - but never more often than once per
`min_interval` per URL, so a flood of made-up kids cannot turn into a flood of fetches.
When a refresh fails, the keys already held stay in use.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson
import requests

from cds_service.trust.trusted_clients import TrustedClientsError, VerificationKey, parse_jwks

log = logging.getLogger(__name__)

FETCH_TIMEOUT_SECONDS = 5.0
TTL_SECONDS = 600.0
MIN_INTERVAL_SECONDS = 30.0
MAX_BYTES = 256 * 1024


class JwksUnavailable(Exception):
    """The set has never been fetched successfully (and a refresh is not allowed or failed)."""


@dataclass
class _Entry:
    keys: dict[str, VerificationKey] | None = None
    fetched_at: float = float("-inf")
    attempted_at: float = float("-inf")
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class JwksCache:
    timeout: float = FETCH_TIMEOUT_SECONDS
    ttl: float = TTL_SECONDS
    min_interval: float = MIN_INTERVAL_SECONDS
    clock: Callable[[], float] = time.monotonic
    _entries: dict[str, _Entry] = field(default_factory=dict)
    _guard: threading.Lock = field(default_factory=threading.Lock)

    def key(self, url: str, kid: str) -> VerificationKey | None:
        """The key `kid` of the set at `url`, or None; JwksUnavailable if there is no set."""
        entry = self._entry(url)
        with entry.lock:  # one fetch at a time per URL; the others wait and reuse it
            now = self.clock()
            stale = entry.keys is None or now - entry.fetched_at >= self.ttl
            missing = entry.keys is not None and kid not in entry.keys
            if (stale or missing) and now - entry.attempted_at >= self.min_interval:
                entry.attempted_at = now
                fresh = self._fetch(url)
                if fresh is not None:
                    entry.keys, entry.fetched_at = fresh, now
            if entry.keys is None:
                raise JwksUnavailable(url)
            return entry.keys.get(kid)

    def _entry(self, url: str) -> _Entry:
        with self._guard:
            return self._entries.setdefault(url, _Entry())

    def _fetch(self, url: str) -> dict[str, VerificationKey] | None:
        try:
            with requests.get(
                url,
                timeout=self.timeout,
                allow_redirects=False,
                stream=True,
                headers={"Accept": "application/json"},
            ) as response:
                if response.status_code != 200:
                    log.warning("jwks_fetch_failed", extra={"status": response.status_code})
                    return None
                body = response.raw.read(MAX_BYTES + 1, decode_content=True)
            if len(body) > MAX_BYTES:
                log.warning("jwks_fetch_failed", extra={"error_type": "TooLarge"})
                return None
            return parse_jwks(orjson.loads(body), "fetched JWK Set", strict=False)
        except (requests.RequestException, orjson.JSONDecodeError, TrustedClientsError) as exc:
            log.warning("jwks_fetch_failed", extra={"error_type": type(exc).__name__})
            return None
