"""The shipped Alembic migrations build exactly the models' schema, idempotently."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from cds_service.store import open_store
from cds_service.store.engine import Store
from cds_service.store.migrate import HEAD, current_revision, head_revision, upgrade
from cds_service.store.models import Base


def test_migrations_reach_head_match_the_models_and_rerun_harmlessly(database_url: str) -> None:
    store = open_store(database_url)
    try:
        assert current_revision(store.engine) == head_revision()
        upgrade(store.engine)  # a second start-up changes nothing
        assert current_revision(store.engine) == head_revision()
        with store.engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert diff == [], diff
        secret = store.secret
        assert len(secret) == 32
    finally:
        store.dispose()
    again = open_store(database_url)
    try:
        assert again.secret == secret  # made once per installation, then kept
    finally:
        again.dispose()


def test_0002_copies_each_feedback_rows_card_patient_and_rule(database_url: str) -> None:
    """Feedback stored before 0002 still holds a card back for its patient after it."""
    store = Store(database_url)
    try:
        upgrade(store.engine, "0001")
        now = datetime.now(UTC)
        with store.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO issued_card (card_uuid, service_id, rule_id, hook_instance,"
                    " indicator, issued_at, patient_key, encounter_key) VALUES"
                    " ('card-1', 'b12-patient-view', 'maintenance-not-started', 'h1',"
                    " 'warning', :now, 'pk-1', NULL)"
                ),
                {"now": now},
            )
            conn.execute(
                text(
                    "INSERT INTO feedback (id, card_uuid, outcome, outcome_at, received_at,"
                    " reason_code) VALUES ('f1', 'card-1', 'overridden', :now, :now,"
                    " 'not-applicable')"
                ),
                {"now": now},
            )
        upgrade(store.engine)
        with store.engine.connect() as conn:
            row = conn.execute(text("SELECT patient_key, rule_id FROM feedback")).one()
        assert tuple(row) == ("pk-1", "maintenance-not-started")
    finally:
        store.dispose()


def test_the_head_the_fast_start_up_check_knows_is_alembics_head() -> None:
    assert HEAD == head_revision()
