"""Per-rule figures for `b12-cds report`: issued, accepted, overridden by reason.

Counts are of cards, not of feedback messages: a card reported twice counts once, and
a card both accepted and later overridden counts under both. The acceptance rate is
accepted cards over issued cards (the sandbox never reports cards it ignored).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from cds_service.store.engine import Store
from cds_service.store.models import Feedback, IssuedCard

NO_REASON = "(none)"


@dataclass
class RuleFigures:
    rule_id: str
    issued: int = 0
    accepted: int = 0
    overridden: int = 0
    override_reasons: dict[str, int] = field(default_factory=dict)

    @property
    def acceptance_rate(self) -> float | None:
        return self.accepted / self.issued if self.issued else None


def rule_figures(store: Store, since: datetime | None = None) -> list[RuleFigures]:
    """Figures for cards issued at or after `since` (all when None), by rule id."""
    figures: dict[str, RuleFigures] = {}

    def row(rule_id: str) -> RuleFigures:
        return figures.setdefault(rule_id, RuleFigures(rule_id))

    window = [IssuedCard.issued_at >= since] if since is not None else []
    with store.transaction() as session:
        for rule_id, issued in session.execute(
            select(IssuedCard.rule_id, func.count()).where(*window).group_by(IssuedCard.rule_id)
        ):
            row(rule_id).issued = issued
        cards = func.count(func.distinct(Feedback.card_uuid))
        for rule_id, accepted in session.execute(
            select(IssuedCard.rule_id, cards)
            .join(Feedback, Feedback.card_uuid == IssuedCard.card_uuid)
            .where(Feedback.outcome == "accepted", *window)
            .group_by(IssuedCard.rule_id)
        ):
            row(rule_id).accepted = accepted
        for rule_id, overridden in session.execute(
            select(IssuedCard.rule_id, cards)
            .join(Feedback, Feedback.card_uuid == IssuedCard.card_uuid)
            .where(Feedback.outcome == "overridden", *window)
            .group_by(IssuedCard.rule_id)
        ):
            row(rule_id).overridden = overridden
        for rule_id, code, count in session.execute(
            select(IssuedCard.rule_id, Feedback.reason_code, cards)
            .join(Feedback, Feedback.card_uuid == IssuedCard.card_uuid)
            .where(Feedback.outcome == "overridden", *window)
            .group_by(IssuedCard.rule_id, Feedback.reason_code)
        ):
            row(rule_id).override_reasons[code or NO_REASON] = count
    return sorted(figures.values(), key=lambda f: f.rule_id)
