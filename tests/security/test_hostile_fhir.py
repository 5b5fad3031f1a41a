"""A hostile FHIR server against the real service: it can neither take the token elsewhere,
nor hold the service's threads, nor blow up its memory.

- every `next`-link spelling that leaves the base path (dot segments, escaped dots, encoded
  slashes, other hosts or ports, credentials) gets nothing, and what reached the server,
  recorded from its raw request line, never carried the token outside the base; the
  spellings of the same server are followed to the normalised URL;
- a FHIR server that never answers holds at most `B12CDS_FHIR_CONCURRENCY` calls of a
  worker, each for one deadline; the others needing it are refused at once (412), and
  calls with full prefetch keep their latency meanwhile;
- pages of tens of thousands of entries with endless `next` links are cut at the entry
  limit (10,000 per search, as for prefetch), said in the card, within the budget, and
  the worker's peak memory stays bounded.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from cds_service.data.fhir_client import MAX_ENTRIES, normalise_url, same_server
from cds_service.protocol.limits import MAX_ARRAY_ITEMS
from tests.security.hostile_fhir import FOLLOWED, LINKS, HostileFhir
from tests.support.hook_calls import call_hook, hook_request
from tests.support.live import REPO, LiveService, start_frozen

FHIR_TIMEOUT_S = 2.0
FHIR_TOKEN = "hostile-fhir-canary-token"
HOOK_URL = "/cds-services/b12-patient-view"
OVERDUE = REPO / "fixtures" / "fires-injection-overdue-106-days" / "request.json"


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileFhir]:
    server = HostileFhir().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    folder: Path = tmp_path_factory.mktemp("hostile-fhir")
    live = start_frozen(
        {
            "B12CDS_DATABASE_URL": f"sqlite:///{folder}/b12cds.sqlite3",
            "B12CDS_FHIR_TIMEOUT": str(FHIR_TIMEOUT_S),
        }
    )  # one worker: 4 application threads, a bulkhead of 2 fallback calls
    yield live
    live.stop()


def fallback_call(fhir_server: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    body = body if body is not None else hook_request(with_prefetch=False)
    body.pop("prefetch", None)
    body["fhirServer"] = fhir_server
    body["fhirAuthorization"] = {
        "access_token": FHIR_TOKEN,
        "token_type": "Bearer",
        "scope": "patient/*.read",
        "subject": "b12-cds",
    }
    return body


def test_the_fhir_entry_cap_is_the_prefetch_one() -> None:
    assert MAX_ENTRIES == MAX_ARRAY_ITEMS


@pytest.mark.parametrize(
    ("url", "normal"),
    [
        ("http://h:1/ok/../escaped/Condition?p=2", "http://h:1/escaped/Condition?p=2"),
        ("HTTP://H:80/ok/%2e%2E/x", "http://h/x"),
        ("https://h:443/ok/./a/../b?x=%3a", "https://h/ok/b?x=%3A"),
        ("http://h/ok/%7e%43", "http://h/ok/~C"),
        ("http://h/ok/a%2fb", None),
        ("http://h/ok/a%5Cb", None),
        ("http://h/ok/a\\b", None),
        ("http://h/ok/a%00", None),
        ("http://u:p@h/ok", None),
        ("ftp://h/ok", None),
    ],
)
def test_urls_are_normalised_as_a_server_reads_them(url: str, normal: str | None) -> None:
    assert normalise_url(url) == normal


@pytest.mark.parametrize(
    ("url", "same"),
    [
        ("http://h:1/ok/Condition", True),
        ("http://h:1/ok/./Condition", True),
        ("http://H:1/ok/x/../Condition", True),
        ("http://h:1/ok/../escaped/Condition?p=2", False),
        ("http://h:1/ok/%2e%2e/escaped", False),
        ("http://h:1/okay/Condition", False),
        ("http://h:1/ok/..%2fescaped", False),
    ],
)
def test_same_server_compares_normalised_urls(url: str, same: bool) -> None:
    assert same_server(url, "http://h:1/ok") is same


@pytest.mark.parametrize("index", range(len(LINKS)))
def test_the_token_never_leaves_the_base_path(
    hostile: HostileFhir, service: LiveService, index: int
) -> None:
    mode = f"link-{index}"
    before = len(hostile.seen)
    response = call_hook(service.base_url, fallback_call(hostile.base(mode)))
    assert response.status_code == 200, response.text
    seen = hostile.seen_since(before)
    assert seen, "the first pages were fetched"
    for request in seen:
        assert request.target.startswith(f"/{mode}/fhir/"), (LINKS[index], request.target)
        lowered = request.target.partition("?")[0].lower()
        assert ".." not in lowered and "%2e" not in lowered and "escaped" not in lowered
        assert "%2f" not in lowered and "%5c" not in lowered and "\\" not in lowered
        assert request.authorization == f"Bearer {FHIR_TOKEN}"
    later = [r.target for r in seen if "p=" in r.target]
    if index in FOLLOWED:
        assert f"/{mode}/fhir/{FOLLOWED[index]}" in later  # followed, as normalised
        assert set(later) == {f"/{mode}/fhir/{FOLLOWED[index]}"}
    else:
        assert later == []  # not followed at all
    assert FHIR_TOKEN not in service.log_text()


def test_a_stalled_fhir_server_cannot_starve_calls_that_need_none(
    hostile: HostileFhir, service: LiveService
) -> None:
    stalled: list[tuple[int, float, str]] = []

    def stall() -> None:
        started = time.perf_counter()
        answer = requests.post(
            service.base_url + HOOK_URL, json=fallback_call(hostile.base("slow")), timeout=30
        )
        stalled.append((answer.status_code, time.perf_counter() - started, answer.text))

    threads = [threading.Thread(target=stall) for _ in range(6)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)  # all six are in
    latencies = []
    with requests.Session() as session:
        while any(t.is_alive() for t in threads) or len(latencies) < 20:
            started = time.perf_counter()
            answer = session.post(service.base_url + HOOK_URL, json=hook_request(), timeout=30)
            latencies.append(time.perf_counter() - started)
            assert answer.status_code == 200, answer.text
    for thread in threads:
        thread.join()
    print(f"prefetch-only calls meanwhile: n={len(latencies)} max={max(latencies) * 1000:.1f} ms")
    assert max(latencies) < 1.0, sorted(latencies)[-3:]  # not waiting behind the stalled calls
    assert [status for status, _, _ in stalled] == [412] * 6
    assert all(seconds < FHIR_TIMEOUT_S + 1.5 for _, seconds, _ in stalled), stalled
    timed_out = [text for _, _, text in stalled if "timed out" in text]
    refused = [text for _, _, text in stalled if "at capacity" in text]
    assert len(timed_out) <= 2 and len(timed_out) + len(refused) == 6, stalled
    metrics = requests.get(service.base_url + "/metrics", timeout=10).text
    assert 'b12cds_fhir_fetches_total{outcome="busy"}' in metrics


def _peak_rss_mb(service: LiveService) -> float:
    """The largest peak RSS (VmHWM) of the service's workers."""
    master = service.process.pid
    peak = 0.0
    for pid in Path(f"/proc/{master}/task/{master}/children").read_text().split():
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peak = max(peak, int(line.split()[1]) / 1024)
    return peak


def test_huge_endless_pages_are_cut_at_the_entry_limit(
    hostile: HostileFhir, service: LiveService
) -> None:
    request = json.loads(OVERDUE.read_text(encoding="utf-8"))
    hostile.data = [
        entry["resource"]
        for value in request["prefetch"].values()
        if isinstance(value, dict)
        for entry in value.get("entry", [])
    ]
    before = len(hostile.seen)
    started = time.perf_counter()
    response = call_hook(service.base_url, fallback_call(hostile.base("wide"), request))
    seconds = time.perf_counter() - started
    assert response.status_code == 200, response.text
    assert seconds < FHIR_TIMEOUT_S + 3.0
    card = next(
        c
        for c in response.json()["cards"]
        if c["source"]["topic"]["code"] == "maintenance-injection-overdue"
    )
    assert "the entry limit was reached" in card["detail"]
    searches = [r for r in hostile.seen_since(before) if "/Patient/" not in r.target]
    assert all("p=n" not in r.target for r in searches)  # one page was enough to fill the cap
    for _ in range(3):  # the same again: memory does not grow with every call
        assert call_hook(service.base_url, fallback_call(hostile.base("wide"), request)).ok
    peak = _peak_rss_mb(service)
    print(f"worker peak RSS after four wide calls: {peak:.0f} MB; first call {seconds:.2f} s")
    assert peak < 300
