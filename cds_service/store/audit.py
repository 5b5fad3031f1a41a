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

from sqlalchemy import Table
from sqlalchemy.engine import Dialect

from cds_service.store.engine import Store
from cds_service.store.keys import encounter_key, patient_key
from cds_service.store.models import Feedback, IssuedCard, IssuedSuggestion

_CARDS = cast(Table, IssuedCard.__table__)
_SUGGESTIONS = cast(Table, IssuedSuggestion.__table__)
_FEEDBACK = cast(Table, Feedback.__table__)


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
    # Driver-level executemany of SQL rendered once per back end (see `_Statements`): this
    # runs on every answer with a card, and SQLAlchemy's statement handling cost more than
    # the write. Committed before the answer is sent, not flushed to disk first
    # (see `Store.ledgering`).
    with store.ledgering() as driver:
        sql = _statements(driver.dialect)
        # parents first: suggestions refer to them
        driver.many(sql.insert_card, [sql.card_row(row) for row in card_rows])
        if suggestion_rows:
            driver.many(sql.insert_suggestion, suggestion_rows)


@dataclass(frozen=True, slots=True)
class _Statements:
    """The hook path's statements in one back end's own parameter style, with the column
    types' own conversions (so rows read and write exactly as SQLAlchemy's would)."""

    insert_card: str
    insert_suggestion: str
    overridden: str  # (rule_id, reason_code, outcome_at, card indicator) of a patient's overrides
    shown_in_encounter: str  # with "{rules}" for as many marks as rules asked about
    mark: str
    card_columns: tuple[str, ...]
    converters: tuple[Callable[[Any], Any] | None, ...]
    read_time: Callable[[Any], Any] | None

    def card_row(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(
            convert(row[name]) if convert is not None else row[name]
            for name, convert in zip(self.card_columns, self.converters, strict=True)
        )


@cache
def _statements(dialect: Dialect) -> _Statements:
    if dialect.paramstyle not in ("qmark", "format", "pyformat"):
        raise ValueError(f"unsupported DB-API parameter style {dialect.paramstyle!r}")
    mark = "?" if dialect.paramstyle == "qmark" else "%s"

    def insert(table: Table, columns: Sequence[str]) -> str:
        names = ", ".join(columns)
        marks = ", ".join([mark] * len(columns))
        # names come from our own table metadata, never from input; values are parameters
        return f"INSERT INTO {table.name} ({names}) VALUES ({marks})"  # noqa: S608

    columns = tuple(c.name for c in _CARDS.columns)
    return _Statements(
        insert_card=insert(_CARDS, columns),
        insert_suggestion=insert(_SUGGESTIONS, ("card_uuid", "suggestion_uuid")),
        overridden=(
            "SELECT f.rule_id, f.reason_code, f.outcome_at, c.indicator"  # noqa: S608
            " FROM feedback f JOIN issued_card c ON c.card_uuid = f.card_uuid"
            f" WHERE f.patient_key = {mark} AND f.outcome = 'overridden'"
        ),
        shown_in_encounter=(
            "SELECT DISTINCT rule_id FROM issued_card"  # noqa: S608
            f" WHERE encounter_key = {mark} AND service_id = {mark} AND rule_id IN ({{rules}})"
        ),
        mark=mark,
        card_columns=columns,
        converters=tuple(_CARDS.c[name].type.bind_processor(dialect) for name in columns),
        read_time=_FEEDBACK.c.outcome_at.type.result_processor(dialect, None),
    )


def suppressed_rules(
    store: Store,
    call: HookCall,
    rule_ids: Collection[str],
    policy: FatiguePolicy,
    now: datetime,
    indicators: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Rules (of `rule_ids`) to hold back for this call -> why ("overridden" or "encounter").

    Overridden: a card of the rule for this patient was overridden with one of the
    policy's reason codes within `override_days`, and (when `indicators` gives the card
    about to be shown) that card was at least as urgent: a clinician who set aside a
    warning has not set aside the critical card the same rule gives once things get worse.
    Encounter: this service already showed the rule's card in this encounter (only when
    `once_per_encounter`).
    """
    wanted = set(rule_ids)
    if not wanted:
        return {}
    patient, encounter = _keys(store, call)
    held: dict[str, str] = {}
    with store.reading() as driver:
        sql = _statements(driver.dialect)
        if patient is not None and policy.override_days > 0 and policy.override_reason_codes:
            cutoff = now - timedelta(days=policy.override_days)
            read_time = sql.read_time or (lambda value: value)
            codes = policy.override_reason_codes
            for rule, reason, at, indicator in driver.rows(sql.overridden, (patient,)):
                if rule in wanted and reason in codes and read_time(at) >= cutoff:
                    shown = (indicators or {}).get(rule)
                    if shown is None or _URGENCY.get(shown, 2) <= _URGENCY.get(indicator, 0):
                        held[rule] = "overridden"
        rest = sorted(wanted - set(held))
        if encounter is not None and policy.once_per_encounter and rest:
            statement = sql.shown_in_encounter.format(rules=", ".join([sql.mark] * len(rest)))
            rows = driver.rows(statement, (encounter, call.service_id, *rest))
            held.update((rule, "encounter") for (rule,) in rows)
    return held


_URGENCY = {"info": 0, "warning": 1, "critical": 2}


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
