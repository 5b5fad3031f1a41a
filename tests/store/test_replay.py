"""The shared JWT replay cache: atomic across processes, on SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta

from cds_service.store import open_store
from cds_service.store.replay import remember_jti

WORKERS = 6


def _try(url: str, jti: str) -> bool:
    store = open_store(url, migrate=False)
    try:
        return remember_jti(store, jti, datetime.now(UTC) + timedelta(minutes=5))
    finally:
        store.dispose()


def test_a_jti_is_fresh_once_until_it_expires(database_url: str) -> None:
    store = open_store(database_url)
    now = datetime.now(UTC)
    later = now + timedelta(minutes=5)
    assert remember_jti(store, "jti-1", later, now=now) is True
    assert remember_jti(store, "jti-1", later, now=now) is False
    assert remember_jti(store.engine, "jti-2", later, now=now) is True
    # once the first token has expired, its id may come round again
    assert remember_jti(store, "jti-1", later + timedelta(minutes=5), now=later) is True
    assert remember_jti(store, "jti-1", later + timedelta(minutes=5), now=later) is False
    long_id = "x" * 5000
    assert remember_jti(store, long_id, later, now=now) is True
    assert remember_jti(store, long_id, later, now=now) is False
    store.dispose()


def test_concurrent_processes_agree_on_one_winner(database_url: str) -> None:
    open_store(database_url).dispose()  # migrate once, as start-up does
    with ProcessPoolExecutor(WORKERS) as pool:
        for round_ in range(5):
            results = list(
                pool.map(_try, [database_url] * WORKERS * 2, [f"race-{round_}"] * WORKERS * 2)
            )
            assert results.count(True) == 1, results
