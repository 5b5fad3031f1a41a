"""Patient and encounter keys: HMAC-SHA256 under a per-installation secret.

The secret is made on first start and kept in the database, so every worker and every
machine sharing the database derives the same keys, and a copy of the audit tables
without that row says nothing about which patient a card was for. Patient ids are
never stored, logged or hashed without the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from cds_service.store.engine import Store
from cds_service.store.models import InstallationSecret
from cds_service.store.types import utc_now

SECRET_ROW = 1


def load_or_create_secret(store: Store) -> bytes:
    """The installation secret; the first caller creates it (a primary-key insert, so two
    processes starting together agree on one)."""
    try:
        with store.transaction() as session:
            if session.get(InstallationSecret, SECRET_ROW) is None:
                session.add(
                    InstallationSecret(
                        id=SECRET_ROW, secret=secrets.token_hex(32), created_at=utc_now()
                    )
                )
    except IntegrityError:
        pass  # another process made it first; read theirs
    with store.transaction() as session:
        value = session.execute(
            select(InstallationSecret.secret).where(InstallationSecret.id == SECRET_ROW)
        ).scalar_one()
    return bytes.fromhex(value)


def patient_key(secret: bytes, patient_id: str) -> str:
    return _mac(secret, "patient", patient_id)


def encounter_key(secret: bytes, patient_id: str, encounter_id: str) -> str:
    return _mac(secret, "encounter", patient_id, encounter_id)


def _mac(secret: bytes, *parts: str) -> str:
    message = "\x1f".join(parts).encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()
