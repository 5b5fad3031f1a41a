"""Feedback carries its card's patient key and rule, so suppression finds a patient's
overrides with one index lookup instead of walking every card the patient was shown.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # plain ADD COLUMN (nullable, no constraint): SQLite does it in place, no table copy
    op.add_column("feedback", sa.Column("patient_key", sa.String(64), nullable=True))
    op.add_column("feedback", sa.Column("rule_id", sa.String(100), nullable=True))
    op.execute(
        "UPDATE feedback SET "
        "patient_key = (SELECT c.patient_key FROM issued_card c "
        "WHERE c.card_uuid = feedback.card_uuid), "
        "rule_id = (SELECT c.rule_id FROM issued_card c WHERE c.card_uuid = feedback.card_uuid)"
    )
    op.create_index("ix_feedback_patient_rule", "feedback", ["patient_key", "rule_id", "outcome"])


def downgrade() -> None:
    op.drop_index("ix_feedback_patient_rule", table_name="feedback")
    with op.batch_alter_table("feedback") as batch:
        batch.drop_column("rule_id")
        batch.drop_column("patient_key")
