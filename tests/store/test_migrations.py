"""The shipped Alembic migrations build exactly the models' schema, idempotently."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from cds_service.store import open_store
from cds_service.store.migrate import current_revision, head_revision, upgrade
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
