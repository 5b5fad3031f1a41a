"""The edge's use of the store for one hook call: hold back fatigued cards, record the rest.

Fails open: if the database is unreachable the clinician still sees every card (a
missed suppression is a nuisance, a missing warning is a hazard); the failure is logged
without patient data.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from cds_service.edge import metrics
from cds_service.policy import Policy
from cds_service.protocol.catalog import ServiceDefinition
from cds_service.protocol.request import HookRequest
from cds_service.rules.base import Finding
from cds_service.store import UNAVAILABLE, Store
from cds_service.store.audit import (
    CardIssue,
    FatiguePolicy,
    HookCall,
    record_issued,
    suppressed_rules,
)

log = logging.getLogger(__name__)


def fatigue_policy(policy: Policy) -> FatiguePolicy:
    block: Mapping[str, Any] = policy.suppression
    return FatiguePolicy(
        override_days=int(block.get("override_days", 0)),
        override_reason_codes=frozenset(block.get("override_reason_codes", ())),
        once_per_encounter=bool(block.get("once_per_encounter", False)),
    )


def hook_call(service: ServiceDefinition, request: HookRequest) -> HookCall:
    return HookCall(
        service_id=service.id,
        hook_instance=request.hook_instance,
        patient_id=request.patient_id or None,
        # "once per encounter" is about the chart opening again, not about order entry
        encounter_id=request.encounter_id if service.hook == "patient-view" else None,
    )


def hold_back(
    store: Store,
    policy: Policy,
    call: HookCall,
    findings: Sequence[Finding],
    now: datetime,
) -> tuple[Finding, ...]:
    """The findings still worth showing under the policy's `suppression` block. A safety
    card (`Finding.safety`: a self-harm answer) is never held back by an earlier override,
    nor is a card more urgent than the one that was overridden."""
    asked = {f.rule_id for f in findings if not f.safety}
    if not asked:
        return tuple(findings)
    try:
        indicators = {f.rule_id: f.indicator for f in findings if not f.safety}
        held = suppressed_rules(store, call, asked, fatigue_policy(policy), now, indicators)
    except UNAVAILABLE as exc:
        log.error("store_unavailable", extra={"error_type": type(exc).__name__})
        return tuple(findings)
    for rule_id, why in held.items():
        metrics.card_suppressed(rule_id, why)
        log.info("card_suppressed", extra={"rule_id": rule_id, "status": why})
    return tuple(f for f in findings if f.safety or f.rule_id not in held)


def record(store: Store, call: HookCall, cards: Sequence[Mapping[str, Any]], now: datetime) -> None:
    """Ledger every card of the answer (so its feedback can be checked) and count it."""
    issues = [_issue(card) for card in cards]
    for issue in issues:
        metrics.cards_issued(issue.rule_id, issue.indicator)
    try:
        record_issued(store, call, issues, now)
    except UNAVAILABLE as exc:
        log.error("store_unavailable", extra={"error_type": type(exc).__name__})


def _issue(card: Mapping[str, Any]) -> CardIssue:
    return CardIssue(
        card_uuid=card["uuid"],
        rule_id=card["source"]["topic"]["code"],
        indicator=card["indicator"],
        suggestion_uuids=tuple(
            s["uuid"] for s in card.get("suggestions", ()) if isinstance(s.get("uuid"), str)
        ),
    )
