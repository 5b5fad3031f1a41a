"""Alembic environment: always handed a live connection by `cds_service.store.migrate`."""

from __future__ import annotations

from alembic import context

from cds_service.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through cds_service.store.migrate.upgrade()")
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    transaction_per_migration=True,
)
with context.begin_transaction():
    context.run_migrations()
connection.commit()
