"""Durability of feedback: concurrency across workers, and a kill -9 mid-load.

Figures are written to test-artifacts/durability-<backend>.json for the record.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.live import REPO, LiveService
from tests.support.store_calls import (
    LOADING_DONE,
    PATIENT_VIEW,
    accepted,
    count,
    fixture_request,
    issue_card,
    overridden,
    post_feedback,
    query,
    start_store_service,
)

CONCURRENT_POSTS = 240
KILL_LOAD_POSTS = 600
KILL_AFTER_OK = 150
CLIENT_THREADS = 24
ARTIFACTS = REPO / "test-artifacts"


def _entries(cards: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """n distinct outcomes (distinct timestamps), alternating accepted and overridden."""
    base = datetime.now(UTC) - timedelta(hours=1)
    out = []
    for i in range(n):
        when = (base + timedelta(milliseconds=i)).isoformat().replace("+00:00", "Z")
        card = cards[i % len(cards)]
        out.append(accepted(card, when) if i % 2 else overridden(card, when=when))
    return out


def _record(name: str, figures: dict[str, Any]) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"{name}.json").write_text(json.dumps(figures, indent=2) + "\n")


def _backend(url: str) -> str:
    return "postgresql" if url.startswith("postgresql") else "sqlite"


def test_concurrent_feedback_is_stored_exactly_once_each(
    service: LiveService, database_url: str
) -> None:
    cards = [issue_card(service.base_url, patient_id=f"patient-dur-{i}") for i in range(8)]
    entries = _entries(cards, CONCURRENT_POSTS)
    local = threading.local()

    def send(entry: dict[str, Any]) -> int:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        return post_feedback(service.base_url, [entry], session=local.session).status_code

    started = time.perf_counter()
    with ThreadPoolExecutor(CLIENT_THREADS) as pool:
        statuses = list(pool.map(send, entries))
    seconds = time.perf_counter() - started
    stored = count(database_url, "feedback")
    _record(
        f"durability-concurrent-{_backend(database_url)}",
        {
            "posted": len(entries),
            "answered_200": statuses.count(200),
            "stored": stored,
            "seconds": round(seconds, 2),
        },
    )
    assert statuses.count(200) == CONCURRENT_POSTS, {s: statuses.count(s) for s in set(statuses)}
    assert stored == CONCURRENT_POSTS
    assert count(database_url, "accepted_suggestion") == CONCURRENT_POSTS // 2


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _kill_9(service: LiveService) -> None:
    """SIGKILL the gunicorn master and its workers at once, as a crash would."""
    pids = [service.process.pid, *_children(service.process.pid)]
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    service.process.wait(10)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to find the workers")
def test_every_answered_feedback_survives_kill_9(database_url: str) -> None:
    service = start_store_service(database_url, workers=3)
    try:
        cards = [issue_card(service.base_url, patient_id=f"patient-kill-{i}") for i in range(8)]
        entries = _entries(cards, KILL_LOAD_POSTS)
        answered: list[dict[str, Any]] = []
        failed = 0
        killed = threading.Event()
        lock = threading.Lock()

        def send(entry: dict[str, Any]) -> None:
            nonlocal failed
            try:
                ok = post_feedback(service.base_url, [entry]).status_code == 200
            except requests.RequestException:
                ok = False
            with lock:
                if ok:
                    answered.append(entry)
                else:
                    failed += 1
                if len(answered) >= KILL_AFTER_OK and not killed.is_set():
                    killed.set()
                    _kill_9(service)

        with ThreadPoolExecutor(CLIENT_THREADS) as pool:
            list(pool.map(send, entries))
        assert killed.is_set(), "the load finished before the kill"
    finally:
        service.stop()

    restarted = start_store_service(database_url, workers=1)
    try:
        rows = query(database_url, "SELECT card_uuid, outcome_at FROM feedback")
        stored_keys = {(card, _naive_utc(at)) for card, at in rows}
        answered_keys = {(e["card"], _naive_utc(e["outcomeTimestamp"])) for e in answered}
        missing = answered_keys - stored_keys
        _record(
            f"durability-kill9-{_backend(database_url)}",
            {
                "posted": KILL_LOAD_POSTS,
                "answered_200": len(answered),
                "failed_or_refused": failed,
                "stored_after_restart": len(stored_keys),
                "answered_but_missing": len(missing),
            },
        )
        assert not missing, f"{len(missing)} feedback answered 200 are not in the database"
        assert len(answered) >= KILL_AFTER_OK
        # the restarted service still works on the same database
        assert post_feedback(restarted.base_url, [accepted(cards[1])]).status_code == 200
    finally:
        restarted.stop()


def _naive_utc(value: Any) -> datetime:
    """A feedback time as the database keeps it: naive UTC, whatever the input form."""
    if not isinstance(value, datetime):
        value = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


KILL_LOAD_CALLS = 400
KILL_AFTER_CARDS = 120


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to find the workers")
def test_every_answered_card_is_in_the_ledger_after_kill_9(database_url: str) -> None:
    """The issued-card record is written without a disk flush, but before the answer: a
    crash of every process (kill -9) loses none of the cards that were answered."""
    service = start_store_service(database_url, workers=3)
    answered: list[str] = []
    lock = threading.Lock()
    killed = threading.Event()
    try:

        def send(n: int) -> None:
            body = fixture_request(LOADING_DONE, patient_id=f"patient-ledger-{n}")
            try:
                response = requests.post(
                    f"{service.base_url}/cds-services/{PATIENT_VIEW}", json=body, timeout=20
                )
            except requests.RequestException:
                return
            if response.status_code != 200:
                return
            with lock:
                answered.extend(card["uuid"] for card in response.json()["cards"])
                if len(answered) >= KILL_AFTER_CARDS and not killed.is_set():
                    killed.set()
                    _kill_9(service)

        with ThreadPoolExecutor(CLIENT_THREADS) as pool:
            list(pool.map(send, range(KILL_LOAD_CALLS)))
        assert killed.is_set(), "the load finished before the kill"
    finally:
        service.stop()

    restarted = start_store_service(database_url, workers=1)
    try:
        stored = {row[0] for row in query(database_url, "SELECT card_uuid FROM issued_card")}
        missing = set(answered) - stored
        _record(
            f"durability-ledger-kill9-{_backend(database_url)}",
            {
                "calls": KILL_LOAD_CALLS,
                "cards_answered": len(answered),
                "cards_stored_after_restart": len(stored),
                "answered_but_missing": len(missing),
            },
        )
        assert not missing, f"{len(missing)} answered cards are not in the ledger"
        # feedback about one of them is accepted by the restarted service
        card = {"uuid": answered[0], "suggestions": []}
        assert post_feedback(restarted.base_url, [overridden(card)]).status_code == 200
    finally:
        restarted.stop()
