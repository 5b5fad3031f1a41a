"""Schema migrations (Alembic scripts shipped in `migrations/`), run at start-up.

Start-up runs them once in the parent process, before gunicorn forks. On PostgreSQL an
advisory lock serialises two machines starting at once; on SQLite the first writer's
lock does the same. A database already at `HEAD` is recognised with one query, without
loading Alembic (a quarter of a second of every start-up).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
PG_LOCK_ID = 0x0B12CD5  # arbitrary, fixed: "b12cds"
HEAD = "0002"  # the newest script in migrations/versions (a test holds it to Alembic's head)


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    if revision == "head" and _stamped(engine) == HEAD:
        return  # nothing to do: the usual restart
    from alembic import command

    config = alembic_config()
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": PG_LOCK_ID})
            connection.commit()
        try:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
        finally:
            if connection.dialect.name == "postgresql":
                connection.rollback()
                connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": PG_LOCK_ID})
                connection.commit()


def _stamped(engine: Engine) -> str | None:
    """The revision recorded in the database, or None (no table yet, or not one row)."""
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    except SQLAlchemyError:
        return None
    return str(rows[0][0]) if len(rows) == 1 else None


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()
