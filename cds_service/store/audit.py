"""The issued-card ledger and the alert-fatigue lookups built on it.

Every card the service answers with is written here (card and suggestion uuids, rule,
service, hook instance, indicator, time, and the patient and encounter only as HMAC
keys), so feedback can be joined to the advice it is about, and a card a clinician
overrode, or already saw in this encounter, can be held back next time.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, bindparam, insert, select

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
        {"card_uuid": card.card_uuid, "suggestion_uuid": suggestion}
        for card in cards
        for suggestion in dict.fromkeys(card.suggestion_uuids)
    ]
    # Core inserts (executemany), not ORM objects: this runs on every answer with a card,
    # and the unit-of-work bookkeeping cost more than the write itself. Committed before
    # the answer is sent, not flushed to disk first (see `Store.ledgering`).
    with store.ledgering() as conn:
        conn.execute(insert(_CARDS), card_rows)  # parents first: suggestions refer to them
        if suggestion_rows:
            conn.execute(insert(_SUGGESTIONS), suggestion_rows)


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
