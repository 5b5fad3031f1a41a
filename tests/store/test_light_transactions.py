"""The hook-call path's lighter transactions: reads that never queue behind a writer, and
ledger writes that are visible to every other connection as soon as they return."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from cds_service.store.audit import CardIssue, HookCall, record_issued
from cds_service.store.engine import open_store
from cds_service.store.models import IssuedCard

CALL = HookCall("b12-patient-view", "hook-1", "pat-1", "enc-1")


def test_a_read_does_not_wait_for_a_writer_holding_the_lock(database_url: str) -> None:
    store = open_store(database_url)
    writer_has_lock = threading.Event()
    release = threading.Event()

    def hold_write_lock() -> None:
        with store.transaction() as session:
            session.execute(text("UPDATE issued_card SET indicator = indicator"))
            writer_has_lock.set()
            release.wait(10)

    writer = threading.Thread(target=hold_write_lock)
    writer.start()
    try:
        assert writer_has_lock.wait(10)
        started = time.perf_counter()
        with store.reading() as driver:
            [(count,)] = driver.rows("SELECT count(*) FROM issued_card")
        waited = time.perf_counter() - started
    finally:
        release.set()
        writer.join()
    assert count == 0
    assert waited < 2.0, f"the read waited {waited:.2f} s behind the writer"
    store.dispose()


def test_a_ledgered_card_is_visible_to_another_store_at_once(database_url: str) -> None:
    writer, reader = open_store(database_url), open_store(database_url, migrate=False)
    issue = CardIssue("c0ffee00-0000-4000-8000-000000000001", "maintenance-not-started", "warning")
    record_issued(writer, CALL, [issue], datetime.now(UTC))
    with reader.transaction() as session:
        found = session.get(IssuedCard, issue.card_uuid)
    assert found is not None and found.rule_id == "maintenance-not-started"
    writer.dispose()
    reader.dispose()


def test_a_transaction_inside_another_in_one_thread_does_not_hang(tmp_path: Path) -> None:
    """The SQLite writer queue is re-entrant within a thread (e.g. the installation secret
    first read inside a transaction), and still excludes other threads."""
    store = open_store(f"sqlite:///{tmp_path}/nested.sqlite3")
    assert store._writers is not None
    done = threading.Event()

    def nested() -> None:
        with store._writers.turn(), store._writers.turn():
            pass
        done.set()

    worker = threading.Thread(target=nested, daemon=True)
    worker.start()
    assert done.wait(5), "a nested turn in one thread hung"
    entered = threading.Event()

    def take_turn() -> None:
        assert store._writers is not None
        with store._writers.turn():
            entered.set()

    with store._writers.turn():
        other = threading.Thread(target=take_turn, daemon=True)
        other.start()
        assert not entered.wait(0.3), "another thread got the turn while it was held"
    assert entered.wait(5)
    other.join(5)
    store.dispose()
