"""Issued cards, their suggestions, feedback, the installation secret and the jti cache.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "installation_secret",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("secret", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "issued_card",
        sa.Column("card_uuid", sa.String(64), primary_key=True),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("rule_id", sa.String(100), nullable=False),
        sa.Column("hook_instance", sa.String(64), nullable=False),
        sa.Column("indicator", sa.String(16), nullable=False),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.Column("patient_key", sa.String(64), nullable=True),
        sa.Column("encounter_key", sa.String(64), nullable=True),
    )
    op.create_index("ix_issued_card_rule_time", "issued_card", ["rule_id", "issued_at"])
    op.create_index("ix_issued_card_patient", "issued_card", ["patient_key", "rule_id"])
    op.create_index("ix_issued_card_encounter", "issued_card", ["encounter_key", "rule_id"])
    op.create_table(
        "issued_suggestion",
        sa.Column(
            "card_uuid",
            sa.String(64),
            sa.ForeignKey("issued_card.card_uuid", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("suggestion_uuid", sa.String(64), primary_key=True),
    )
    op.create_table(
        "feedback",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column(
            "card_uuid",
            sa.String(64),
            sa.ForeignKey("issued_card.card_uuid", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("outcome_at", sa.DateTime(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("reason_system", sa.String(255), nullable=True),
        sa.Column("reason_code", sa.String(255), nullable=True),
        sa.Column("reason_display", sa.String(255), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.UniqueConstraint("card_uuid", "outcome", "outcome_at", name="uq_feedback_once"),
    )
    op.create_index("ix_feedback_card", "feedback", ["card_uuid"])
    op.create_table(
        "accepted_suggestion",
        sa.Column(
            "feedback_id",
            sa.String(64),
            sa.ForeignKey("feedback.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("suggestion_uuid", sa.String(64), primary_key=True),
    )
    op.create_table(
        "seen_jti",
        sa.Column("jti", sa.String(255), primary_key=True),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_seen_jti_expires_at", "seen_jti", ["expires_at"])


def downgrade() -> None:
    for table in (
        "seen_jti",
        "accepted_suggestion",
        "feedback",
        "issued_suggestion",
        "issued_card",
        "installation_secret",
    ):
        op.drop_table(table)
