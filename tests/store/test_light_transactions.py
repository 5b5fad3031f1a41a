"""The hook-call path's lighter transactions: reads that never queue behind a writer, and
ledger writes that are visible to every other connection as soon as they return."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from sqlalchemy import func, select, text

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
        with store.reading() as conn:
            count = conn.execute(select(func.count()).select_from(IssuedCard)).scalar_one()
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
