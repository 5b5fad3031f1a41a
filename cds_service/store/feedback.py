"""Storing CDS Hooks feedback: all of one POST or none of it, each outcome once.

An outcome is linked to the card it is about; a card this service never issued, a card
another service issued, or a suggestion id the card never carried rejects the whole POST
(`FeedbackRejected`) and nothing of it is kept. The same card, outcome and
outcomeTimestamp sent again is stored once (clients retry).
"""

from __future__ import annotations

import importlib
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from cds_service.store.engine import Store
from cds_service.store.models import AcceptedSuggestion, Feedback, IssuedCard, IssuedSuggestion

_LONG_FRACTION = re.compile(r"(\.\d{6})\d+")  # Python reads at most microseconds
CLOCK_SKEW = timedelta(days=1)  # outcome times further in the future are refused


class FeedbackRejected(ValueError):
    """The feedback names something this service did not issue; `pointer` says where."""

    def __init__(self, pointer: str, message: str) -> None:
        super().__init__(f"{pointer}: {message}")
        self.pointer = pointer


@dataclass(frozen=True, slots=True)
class Outcome:
    card_uuid: str
    outcome: str  # "accepted" | "overridden"
    at: datetime
    accepted: tuple[str, ...] = ()
    reason_system: str | None = None
    reason_code: str | None = None
    reason_display: str | None = None
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class Stored:
    new: tuple[Outcome, ...]  # duplicates of earlier posts are left out
    rule_ids: tuple[str, ...]  # the rule of each new outcome's card, same order


def parse_feedback(body: Mapping[str, Any], now: datetime) -> list[Outcome]:
    """Schema-valid feedback body -> outcomes; a bad timestamp is a `FeedbackRejected`."""
    outcomes = []
    for index, entry in enumerate(body["feedback"]):
        pointer = f"/feedback/{index}"
        at = _timestamp(entry["outcomeTimestamp"], f"{pointer}/outcomeTimestamp", now)
        reason = entry.get("overrideReason") or {}
        coding = reason.get("reason") or {}
        outcomes.append(
            Outcome(
                card_uuid=entry["card"],
                outcome=entry["outcome"],
                at=at,
                accepted=tuple(s["id"] for s in entry.get("acceptedSuggestions") or ()),
                reason_system=_text(coding.get("system")),
                reason_code=_text(coding.get("code")),
                reason_display=_text(coding.get("display")),
                comment=reason.get("userComment") or None,
            )
        )
    return outcomes


def store_feedback(
    store: Store, service_id: str, outcomes: Sequence[Outcome], now: datetime
) -> Stored:
    """Check every outcome against the ledger and store the new ones, in one transaction."""
    new: list[Outcome] = []
    rules: list[str] = []
    with store.transaction() as session:
        for index, outcome in enumerate(outcomes):
            card = _check(session, service_id, index, outcome)
            rule_id = card.rule_id
            if _insert_once(session, outcome, card, now):
                new.append(outcome)
                rules.append(rule_id)
    return Stored(tuple(new), tuple(rules))


def _check(session: Session, service_id: str, index: int, outcome: Outcome) -> IssuedCard:
    card = session.get(IssuedCard, outcome.card_uuid[:64])
    if card is None or card.card_uuid != outcome.card_uuid:
        raise FeedbackRejected(
            f"/feedback/{index}/card",
            f"no card {outcome.card_uuid[:64]!r} was issued by this service",
        )
    if card.service_id != service_id:
        raise FeedbackRejected(
            f"/feedback/{index}/card",
            f"card {outcome.card_uuid!r} was issued by service {card.service_id!r}; "
            f"send its feedback to /cds-services/{card.service_id}/feedback",
        )
    if outcome.accepted:
        offered = set(
            session.execute(
                select(IssuedSuggestion.suggestion_uuid).where(
                    IssuedSuggestion.card_uuid == card.card_uuid
                )
            ).scalars()
        )
        for position, suggestion in enumerate(outcome.accepted):
            if suggestion not in offered:
                raise FeedbackRejected(
                    f"/feedback/{index}/acceptedSuggestions/{position}/id",
                    f"card {outcome.card_uuid!r} has no suggestion {suggestion[:64]!r}",
                )
    return card


def _insert_once(session: Session, outcome: Outcome, card: IssuedCard, now: datetime) -> bool:
    """Insert unless (card, outcome, time) is already there; True if this row is new."""
    feedback_id = uuid.uuid4().hex
    values = {
        "id": feedback_id,
        "card_uuid": outcome.card_uuid,
        "outcome": outcome.outcome,
        "outcome_at": outcome.at,
        "received_at": now,
        "reason_system": outcome.reason_system,
        "reason_code": outcome.reason_code,
        "reason_display": outcome.reason_display,
        "comment": outcome.comment,
        "patient_key": card.patient_key,
        "rule_id": card.rule_id,
    }
    dialect = session.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        # the back end's own dialect module, already loaded by its engine (importing the
        # PostgreSQL one up front cost every SQLite start-up a tenth of a second)
        module: Any = importlib.import_module(f"sqlalchemy.dialects.{dialect}")
        # Core insert with RETURNING: a skipped duplicate returns no row (rowcount is
        # not reliable for ORM-enabled inserts under psycopg)
        statement = (
            module.insert(Feedback.__table__)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["card_uuid", "outcome", "outcome_at"])
            .returning(Feedback.__table__.c.id)
        )
        inserted = session.execute(statement).first() is not None
    else:  # other back ends: look first (the unique constraint still guards a race)
        existing = session.execute(
            select(Feedback.id).where(
                Feedback.card_uuid == outcome.card_uuid,
                Feedback.outcome == outcome.outcome,
                Feedback.outcome_at == outcome.at,
            )
        ).first()
        inserted = existing is None
        if inserted:
            session.execute(insert(Feedback).values(**values))
    if inserted and outcome.accepted:
        session.execute(
            insert(AcceptedSuggestion),
            [
                {"feedback_id": feedback_id, "suggestion_uuid": s}
                for s in dict.fromkeys(outcome.accepted)
            ],
        )
    return bool(inserted)


def _timestamp(raw: str, pointer: str, now: datetime) -> datetime:
    try:
        value = datetime.fromisoformat(_LONG_FRACTION.sub(r"\1", raw.strip()))
    except ValueError:
        raise FeedbackRejected(
            pointer, f"{raw[:40]!r} is not an RFC 3339 date-time such as 2026-11-25T10:05:31Z"
        ) from None
    value = value if value.tzinfo else value.replace(tzinfo=UTC)  # tolerate a missing zone
    try:
        # in UTC first: 0001-01-01T00:00:00+14:00 is a valid RFC 3339 date-time, but
        # before year 1 in UTC, so comparing or converting it overflows
        value = value.astimezone(UTC)
    except OverflowError:
        raise FeedbackRejected(
            pointer, f"{raw[:40]!r} is outside the years 1 to 9999 once in UTC"
        ) from None
    if value > now + CLOCK_SKEW:
        raise FeedbackRejected(pointer, f"{raw[:40]!r} is in the future")
    return value


def _text(value: Any) -> str | None:
    return value[:255] if isinstance(value, str) and value else None
