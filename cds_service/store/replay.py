"""JWT replay protection shared by every worker and machine using the same database.

`remember_jti` inserts the jti as a primary key: the database decides atomically which
of two concurrent calls saw it first. An expired entry may be reused (the token it
belonged to is no longer accepted anyway); expired rows are purged now and then.
"""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime

from sqlalchemy import Engine, delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cds_service.store.engine import Store
from cds_service.store.models import CODE, Base, SeenJti
from cds_service.store.types import utc_now

PURGE_PROBABILITY = 0.02


def remember_jti(
    store_or_engine: Store | Engine, jti: str, expires_at: datetime, *, now: datetime | None = None
) -> bool:
    """True if `jti` was never seen (or only under an expired token); False on a replay.

    `expires_at` is the token's `exp` (aware, or naive meaning UTC).
    """
    engine = store_or_engine.engine if isinstance(store_or_engine, Store) else store_or_engine
    now = now or utc_now()
    expires_at = expires_at if expires_at.tzinfo else expires_at.replace(tzinfo=UTC)
    key = _key(jti)
    with Session(engine) as session:
        try:
            with session.begin():
                session.add(SeenJti(jti=key, expires_at=expires_at))
            fresh = True
        except IntegrityError:
            with session.begin():
                table = Base.metadata.tables[SeenJti.__tablename__]
                reused = session.execute(
                    update(table)
                    .where(table.c.jti == key, table.c.expires_at <= now)
                    .values(expires_at=expires_at)
                    .returning(table.c.jti)
                ).first()
            fresh = reused is not None
        if random.random() < PURGE_PROBABILITY:  # noqa: S311  # not security relevant
            with session.begin():
                session.execute(delete(SeenJti).where(SeenJti.expires_at <= now))
    return fresh


def _key(jti: str) -> str:
    """Short ids as they are; long ones as a digest so any length fits the column."""
    if len(jti) <= CODE - 8:
        return jti
    return "sha256:" + hashlib.sha256(jti.encode()).hexdigest()
