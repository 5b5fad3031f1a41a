"""The issued-card ledger and the alert-fatigue lookups built on it.

Every card the service answers with is written here (card and suggestion uuids, rule,
service, hook instance, indicator, time, and the patient and encounter only as HMAC
keys), so feedback can be joined to the advice it is about, and a card a clinician
overrode, or already saw in this encounter, can be held back next time.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any, cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.engine import Dialect

from cds_service.store.engine import Store
from cds_service.store.keys import encounter_key, patient_key
from cds_service.store.models import Feedback, IssuedCard, IssuedSuggestion

_CARDS = cast(Table, IssuedCard.__table__)
_SUGGESTIONS = cast(Table, IssuedSuggestion.__table__)


@dataclass(frozen=True, slots=True)
class CardIssue:
    """What is kept of one card: nothing about the patient."""

    card_uuid: str
    rule_id: str
    indicator: str
    suggestion_uuids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class HookCall:
    """Who a set of cards was for: the ids are turned into keys before anything is stored."""

    service_id: str
    hook_instance: str
    patient_id: str | None
    encounter_id: str | None


@dataclass(frozen=True, slots=True)
class FatiguePolicy:
    override_days: int
    override_reason_codes: frozenset[str]
    once_per_encounter: bool


def record_issued(store: Store, call: HookCall, cards: Sequence[CardIssue], now: datetime) -> None:
    """Write the cards of one answer in one transaction."""
    if not cards:
        return
    patient, encounter = _keys(store, call)
    card_rows = [
        {
            "card_uuid": card.card_uuid,
            "service_id": call.service_id,
            "rule_id": card.rule_id,
            "hook_instance": call.hook_instance[:64],
            "indicator": card.indicator,
            "issued_at": now,
            "patient_key": patient,
            "encounter_key": encounter,
        }
        for card in cards
    ]
    suggestion_rows = [
        (card.card_uuid, suggestion)
        for card in cards
        for suggestion in dict.fromkeys(card.suggestion_uuids)
    ]
    # Driver-level executemany of SQL rendered once per back end (see `_Inserts`): this
    # runs on every answer with a card, and SQLAlchemy's statement handling cost more than
    # the write. Committed before the answer is sent, not flushed to disk first
    # (see `Store.ledgering`).
    with store.ledgering() as conn:
        inserts = _inserts(conn.dialect)
        # parents first: suggestions refer to them
        conn.exec_driver_sql(inserts.cards, [inserts.card_row(row) for row in card_rows])
        if suggestion_rows:
            conn.exec_driver_sql(inserts.suggestions, suggestion_rows)


@dataclass(frozen=True, slots=True)
class _Inserts:
    """The ledger's two INSERTs in one back end's own parameter style, with the column
    types' own bind conversions (so rows read back exactly as SQLAlchemy wrote them)."""

    cards: str
    suggestions: str
    card_columns: tuple[str, ...]
    converters: tuple[Callable[[Any], Any] | None, ...]

    def card_row(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(
            convert(row[name]) if convert is not None else row[name]
            for name, convert in zip(self.card_columns, self.converters, strict=True)
        )


@cache
def _inserts(dialect: Dialect) -> _Inserts:
    def statement(table: Table, columns: Sequence[str]) -> str:
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        names = ", ".join(columns)
        marks = ", ".join([mark] * len(columns))
        # names come from our own table metadata, never from input; values are parameters
        return f"INSERT INTO {table.name} ({names}) VALUES ({marks})"  # noqa: S608

    if dialect.paramstyle not in ("qmark", "format", "pyformat"):
        raise ValueError(f"unsupported DB-API parameter style {dialect.paramstyle!r}")
    columns = tuple(c.name for c in _CARDS.columns)
    return _Inserts(
        cards=statement(_CARDS, columns),
        suggestions=statement(_SUGGESTIONS, ("card_uuid", "suggestion_uuid")),
        card_columns=columns,
        converters=tuple(_CARDS.c[name].type.bind_processor(dialect) for name in columns),
    )


def suppressed_rules(
    store: Store,
    call: HookCall,
    rule_ids: Collection[str],
    policy: FatiguePolicy,
    now: datetime,
) -> dict[str, str]:
    """Rules (of `rule_ids`) to hold back for this call -> why ("overridden" or "encounter").

    Overridden: a card of the rule for this patient was overridden with one of the
    policy's reason codes within `override_days`. Encounter: this service already showed
    the rule's card in this encounter (only when `once_per_encounter`).
    """
    wanted = set(rule_ids)
    if not wanted:
        return {}
    patient, encounter = _keys(store, call)
    held: dict[str, str] = {}
    with store.reading() as conn:
        if patient is not None and policy.override_days > 0 and policy.override_reason_codes:
            cutoff = now - timedelta(days=policy.override_days)
            for rule, reason, at in conn.execute(_OVERRIDDEN, {"patient": patient}):
                if rule in wanted and reason in policy.override_reason_codes and at >= cutoff:
                    held[rule] = "overridden"
        rest = wanted - set(held)
        if encounter is not None and policy.once_per_encounter and rest:
            rows = conn.execute(
                _SHOWN_IN_ENCOUNTER,
                {"encounter": encounter, "service": call.service_id, "rules": sorted(rest)},
            ).scalars()
            held.update((rule, "encounter") for rule in rows)
    return held


# Built once: a hook call only binds values (building the statement cost more than running it).
# The patient's overrides, filtered by rule, reason and age in Python: a patient has few,
# and a statement with one plain parameter runs from SQLAlchemy's compiled cache (the
# expanding IN lists it replaced were re-rendered on every call).
_OVERRIDDEN = select(Feedback.rule_id, Feedback.reason_code, Feedback.outcome_at).where(
    Feedback.patient_key == bindparam("patient"), Feedback.outcome == "overridden"
)
_SHOWN_IN_ENCOUNTER = (
    select(IssuedCard.rule_id)
    .where(
        IssuedCard.encounter_key == bindparam("encounter"),
        IssuedCard.service_id == bindparam("service"),
        IssuedCard.rule_id.in_(bindparam("rules", expanding=True)),
    )
    .distinct()
)


def _keys(store: Store, call: HookCall) -> tuple[str | None, str | None]:
    if not call.patient_id:
        return None, None
    patient = patient_key(store.secret, call.patient_id)
    encounter = (
        encounter_key(store.secret, call.patient_id, call.encounter_id)
        if call.encounter_id
        else None
    )
    return patient, encounter
