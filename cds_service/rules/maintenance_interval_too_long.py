"""maintenance-interval-too-long — IM B12 maintenance ordered less often than guideline.

When (order-select: the selected orders; order-sign: all draft orders):
- a B12 injection order (injectable product or IM route) is in focus, not a finite loading
  course or single dose;
- and its interval (period / frequency, using periodMax when given) is longer than
  3 months (92 days), or 2 months (62 days) with neurological involvement.
Then: warning (info when the interval could only be read from free text). Shorter intervals
(monthly, or more often for symptoms) are never flagged. Suggest every 12 weeks (8 weeks
with neurological involvement).
Guideline: BNF/SmPC hydroxocobalamin (every 3 months; every 2 months with neurological
involvement); CKS; local protocol (every 2-3 months).
Why: longer gaps let deficiency and symptoms return before the next dose.
"""

from __future__ import annotations

from cds_service.record.model import Agent, Analyte
from cds_service.rules.base import (
    SPECIALIST_PLAN,
    ChangeOrderInterval,
    Finding,
    Indicator,
    OverrideReason,
    RuleInput,
)
from cds_service.rules.facts.causes import neuro_involvement
from cds_service.rules.facts.therapy import injected, is_loading_or_one_off
from cds_service.rules.facts.wording import condition_line, interval_text, med_line
from cds_service.rules.guidelines import BNF_HYDROXOCOBALAMIN

RULE_ID = "maintenance-interval-too-long"
HOOKS = ("order-select", "order-sign")
# Lab analytes read (directly or through `facts`): the reader parses no others for a hook.
READS = frozenset({Analyte.B12})
# Of those, read as a whole series (`record.results`); the others as their newest result.
SERIES = frozenset({Analyte.B12})
GUIDELINE = BNF_HYDROXOCOBALAMIN
LEVELS_GUIDED = OverrideReason("symptom-free-on-interval", "Symptom-free on this interval")


def evaluate(inp: RuleInput) -> Finding | None:
    if inp.orders is None:
        return None
    record, policy = inp.record, inp.policy
    neuro = neuro_involvement(record, policy)
    limit = policy.days("order_limit_neuro" if neuro else "order_limit")
    for order in inp.orders.with_agent(Agent.B12, focus_only=True):
        med = order.medication
        if order.is_stop or med is None or not injected(med):
            continue
        if med.interval_days is None or med.interval_days <= limit:
            continue
        if is_loading_or_one_off(med):
            continue
        indicator: Indicator = "info" if med.interval_from_text else "warning"
        target = _in_four_week_steps(policy.days("maintenance_neuro" if neuro else "maintenance"))
        maximum = interval_text(limit) + (" (neurological involvement)" if neuro else "")
        evidence = [
            f"Ordered: {med_line(med)}",
            f"Longest guideline interval: every {maximum}",
        ]
        if neuro:
            evidence.append(f"Neurological involvement: {condition_line(neuro[0])}")
        caveats = []
        if med.interval_from_text:
            caveats.append("The interval was read from the free-text dosage instructions.")
        return Finding(
            rule_id=RULE_ID,
            indicator=indicator,
            summary=(
                f"IM B12 every {interval_text(med.interval_days)} is longer than the "
                f"maximum of every {interval_text(limit)}"
            ),
            guideline=GUIDELINE,
            evidence=tuple(evidence),
            advice=(
                f"Maintenance hydroxocobalamin is 1 mg IM every {maximum}; monthly or more "
                "frequent dosing is fine when symptoms need it."
            ),
            caveats=tuple(caveats),
            suggestions=(
                ChangeOrderInterval(
                    label=f"Change to every {interval_text(target)}",
                    order_ref=order.ref,
                    interval_days=target,
                    recommended=True,
                ),
            ),
            override_reasons=(SPECIALIST_PLAN, LEVELS_GUIDED),
        )
    return None


def _in_four_week_steps(days: int) -> int:
    """The suggested interval in days, rounded down to the 4-week steps a clinic books
    (91 days -> 84, i.e. 12 weeks; 61 -> 56), so never longer than the policy's interval."""
    return days // 28 * 28 if days >= 28 else max(1, days)
