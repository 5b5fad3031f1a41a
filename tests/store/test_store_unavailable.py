"""The hook path fails open when the database goes away after start-up: the clinician
still gets every card, and the store's failure reaches the edge as a SQLAlchemy error
(the one kind `edge.ledger` catches), whether it comes from SQLAlchemy or the driver."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from cds_service.edge import ledger
from cds_service.policy import load_policy
from cds_service.rules.base import Finding
from cds_service.rules.guidelines import LOCAL_PROTOCOL
from cds_service.store.audit import (
    CardIssue,
    FatiguePolicy,
    HookCall,
    record_issued,
    suppressed_rules,
)
from cds_service.store.engine import Store, open_store

CALL = HookCall("b12-patient-view", "hook-1", "pat-1", "enc-1")
FATIGUE = FatiguePolicy(
    override_days=30, override_reason_codes=frozenset({"x"}), once_per_encounter=True
)
CARD_UUID = "c0ffee00-0000-4000-8000-00000000000a"
CARD: dict[str, Any] = {
    "uuid": CARD_UUID,
    "indicator": "warning",
    "source": {"topic": {"code": "maintenance-not-started"}},
    "suggestions": [{"uuid": "c0ffee00-0000-4000-8000-00000000000b"}],
}


def _store_that_loses_its_database(database_url: str, tmp_path: Path) -> Store:
    store = open_store(database_url)  # migrated, and the secret made, as at start-up
    store.dispose()
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        assert url.database is not None
        Path(url.database).rename(tmp_path / "moved.sqlite3")
        Path(url.database).parent.rename(tmp_path.parent / f"{tmp_path.name}-gone")
    else:
        admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{url.database}" WITH (FORCE)'))
        admin.dispose()
    return store


@pytest.fixture
def lost_store(database_url: str, tmp_path: Path) -> Store:
    if database_url.startswith("sqlite"):
        folder = tmp_path / "db"
        folder.mkdir()
        database_url = f"sqlite:///{folder}/b12cds.sqlite3"
        return _store_that_loses_its_database(database_url, folder)
    return _store_that_loses_its_database(database_url, tmp_path)


def test_store_calls_raise_sqlalchemy_errors(lost_store: Store) -> None:
    now = datetime.now(UTC)
    with pytest.raises(SQLAlchemyError):
        suppressed_rules(lost_store, CALL, {"maintenance-not-started"}, FATIGUE, now)
    with pytest.raises((SQLAlchemyError, OSError)):
        record_issued(
            lost_store, CALL, [CardIssue(CARD_UUID, "maintenance-not-started", "warning")], now
        )


def test_the_ledger_fails_open(lost_store: Store) -> None:
    policy = load_policy("seed")
    finding = Finding("maintenance-not-started", "warning", "s", LOCAL_PROTOCOL)
    now = datetime.now(UTC)
    assert ledger.hold_back(lost_store, policy, CALL, [finding], now) == (finding,)
    ledger.record(lost_store, CALL, [CARD], now)  # logged, not raised
