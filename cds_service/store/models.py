"""Tables. No column holds a patient id, a name or a clinical value: patients and
encounters appear only as HMAC keys (see `keys.py`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from cds_service.store.types import UtcDateTime

ID = 64  # uuids, hook instances, service ids
RULE = 100
CODE = 255


class Base(DeclarativeBase):
    pass


class InstallationSecret(Base):
    """One row: the HMAC key for patient and encounter keys, made on first start."""

    __tablename__ = "installation_secret"
    id: Mapped[int] = mapped_column(primary_key=True)
    secret: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class IssuedCard(Base):
    __tablename__ = "issued_card"
    card_uuid: Mapped[str] = mapped_column(String(ID), primary_key=True)
    service_id: Mapped[str] = mapped_column(String(ID))
    rule_id: Mapped[str] = mapped_column(String(RULE))
    hook_instance: Mapped[str] = mapped_column(String(ID))
    indicator: Mapped[str] = mapped_column(String(16))
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime())
    patient_key: Mapped[str | None] = mapped_column(String(ID))
    encounter_key: Mapped[str | None] = mapped_column(String(ID))

    __table_args__ = (
        Index("ix_issued_card_rule_time", "rule_id", "issued_at"),
        Index("ix_issued_card_patient", "patient_key", "rule_id"),
        Index("ix_issued_card_encounter", "encounter_key", "rule_id"),
    )


class IssuedSuggestion(Base):
    __tablename__ = "issued_suggestion"
    card_uuid: Mapped[str] = mapped_column(
        String(ID), ForeignKey("issued_card.card_uuid", ondelete="CASCADE"), primary_key=True
    )
    suggestion_uuid: Mapped[str] = mapped_column(String(ID), primary_key=True)


class Feedback(Base):
    """One outcome for one card; (card, outcome, outcome time) is the idempotency key."""

    __tablename__ = "feedback"
    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    card_uuid: Mapped[str] = mapped_column(
        String(ID), ForeignKey("issued_card.card_uuid", ondelete="CASCADE")
    )
    outcome: Mapped[str] = mapped_column(String(16))
    outcome_at: Mapped[datetime] = mapped_column(UtcDateTime())
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    reason_system: Mapped[str | None] = mapped_column(String(CODE))
    reason_code: Mapped[str | None] = mapped_column(String(CODE))
    reason_display: Mapped[str | None] = mapped_column(String(CODE))
    comment: Mapped[str | None] = mapped_column(Text)
    # copied from the card, so suppression reads a patient's overrides in one lookup
    patient_key: Mapped[str | None] = mapped_column(String(ID))
    rule_id: Mapped[str | None] = mapped_column(String(RULE))

    __table_args__ = (
        UniqueConstraint("card_uuid", "outcome", "outcome_at", name="uq_feedback_once"),
        Index("ix_feedback_card", "card_uuid"),
        Index("ix_feedback_patient_rule", "patient_key", "rule_id", "outcome"),
    )


class AcceptedSuggestion(Base):
    __tablename__ = "accepted_suggestion"
    feedback_id: Mapped[str] = mapped_column(
        String(ID), ForeignKey("feedback.id", ondelete="CASCADE"), primary_key=True
    )
    suggestion_uuid: Mapped[str] = mapped_column(String(ID), primary_key=True)


class SeenJti(Base):
    """JWT ids already used, until they expire (replay protection across workers)."""

    __tablename__ = "seen_jti"
    jti: Mapped[str] = mapped_column(String(CODE), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
