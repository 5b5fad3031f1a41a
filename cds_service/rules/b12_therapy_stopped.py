"""b12-therapy-stopped — lifelong B12 missing or being stopped in an irreversible cause.

When (patient-view):
- an irreversible cause of malabsorption is recorded, whatever its clinical status
  (pernicious anaemia/autoimmune gastritis, gastrectomy, gastric bypass, ileal resection,
  short bowel; surgical history as a resolved condition or a completed procedure counts);
- and there is no current B12 therapy: no active B12 order or statement, and no dose given in
  the last 4 months.
When (order-sign):
- a B12 order in the draft orders is being stopped or cancelled, the patient has an
  irreversible cause, and no replacement B12 (another B12 draft — IM, or oral at least 1 mg —
  or another current B12 therapy in the record) remains.
Then: critical for pernicious anaemia, gastric surgery or ileal resection when B12 deficiency
is documented; warning otherwise. Suggest keeping (or restarting) hydroxocobalamin 1 mg IM
every 3 months (every 2 months with neurological involvement).
Does not fire for diet-, medicine- or nitrous-oxide-related deficiency (stopping can be right).
Guideline: NICE NG239 1.1.3 (lifelong for some causes); SmPC (prophylaxis after gastrectomy /
ileal resection); CKS (for life when not diet-related); local protocol (never discontinue).
Why: stopping in an irreversible cause leads back to deficiency and irreversible nerve damage.
"""

from __future__ import annotations

from cds_service.record.model import Agent, Analyte, DraftOrder, Route
from cds_service.rules import facts
from cds_service.rules.base import (
    GIVEN_ELSEWHERE,
    Finding,
    Indicator,
    OverrideReason,
    ProposeB12Injection,
    RemoveDraft,
    RuleInput,
    SuggestionIntent,
)
from cds_service.rules.guidelines import NICE_NG239

RULE_ID = "b12-therapy-stopped"
HOOKS = ("patient-view", "order-sign")
# Lab analytes read (directly or through `facts`): the reader parses no others for a hook.
READS = frozenset({Analyte.B12, Analyte.HOLOTC})
GUIDELINE = NICE_NG239
SWITCHED_ORAL = OverrideReason("switched-oral", "Switched to oral high-dose B12")
DIAGNOSIS_REVISED = OverrideReason("diagnosis-revised", "Diagnosis revised")


def _stops_without_replacement(inp: RuleInput) -> tuple[DraftOrder, ...]:
    if inp.orders is None:
        return ()
    stops = tuple(d for d in inp.orders.with_agent(Agent.B12, focus_only=True) if d.is_stop)
    if not stops:
        return ()
    stopped_refs = {d.ref for d in stops}
    minimum = inp.policy.threshold("oral_dose_malabsorption_min_mg")
    replacement = [
        d
        for d in inp.orders.with_agent(Agent.B12)
        if not d.is_stop
        and d.status not in ("entered-in-error", "completed")
        and d.medication is not None
        # a low-dose oral product (e.g. 50 micrograms) does not replace lifelong B12
        and not (
            d.medication.route is Route.ORAL
            and d.medication.b12_dose_mg is not None
            and d.medication.b12_dose_mg < minimum
        )
    ]
    ongoing = [m for m in facts.ongoing_b12(inp.record, inp.today) if m.ref not in stopped_refs]
    return () if replacement or ongoing else stops


def evaluate(inp: RuleInput) -> Finding | None:
    record, policy, today = inp.record, inp.policy, inp.today
    causes = facts.irreversible_causes(record, policy)
    if not causes:
        return None
    interval = facts.guideline_interval(record, policy)
    deficiency = facts.deficiency_evidence(record, policy)
    indicator: Indicator = "warning"
    if deficiency and any(c.cause in facts.LIFELONG_CRITICAL_CAUSES for c in causes):
        indicator = "critical"
    cause = next((c for c in causes if c.cause in facts.LIFELONG_CRITICAL_CAUSES), causes[0])
    evidence = facts.cause_lines(causes, limit=3)
    evidence += [f"B12 deficiency: {line}" for line in deficiency[:2]]
    restart = ProposeB12Injection(
        label=f"Order hydroxocobalamin 1 mg IM every {facts.interval_text(interval)}",
        interval_days=interval,
        recommended=True,
    )
    suggestions: tuple[SuggestionIntent, ...]

    if inp.hook == "order-sign":
        stops = _stops_without_replacement(inp)
        if not stops:
            return None
        summary = f"Stopping B12 in {cause.words}: lifelong replacement is needed"
        evidence.insert(
            0,
            f"Order being {stops[0].status}: {stops[0].medication.name if stops[0].medication else stops[0].ref}",
        )
        suggestions = (
            RemoveDraft(
                label="Keep the B12 order (discard the stop)",
                order_ref=stops[0].ref,
                recommended=True,
            ),
        )
    else:
        if facts.current_b12_therapy(record, policy, today):
            return None
        last = facts.last_injection(record)
        last_text = (
            f"last dose {last.start.text}" if last and last.start else "no B12 dose recorded"
        )
        summary = (
            f"No current B12 therapy in {cause.words}: lifelong replacement needed ({last_text})"
        )
        if len(summary) > 139:
            summary = f"No current B12 therapy in {cause.words}: lifelong replacement needed"
        previous = [m for m in record.meds(Agent.B12) if m.start is not None][:2]
        evidence += [f"Previous B12: {facts.med_line(m)}" for m in previous]
        suggestions = (restart,)

    return Finding(
        rule_id=RULE_ID,
        indicator=indicator,
        summary=summary,
        guideline=GUIDELINE,
        evidence=tuple(evidence),
        advice=(
            f"B12 replacement is lifelong with {cause.words}; stopping may lead to irreversible "
            "neurological damage. Continue hydroxocobalamin 1 mg IM every "
            f"{facts.interval_text(interval)}."
        ),
        caveats=tuple(g.message for g in record.gaps_about("b12", "conditions", "bundle")),
        suggestions=suggestions,
        override_reasons=(SWITCHED_ORAL, GIVEN_ELSEWHERE, DIAGNOSIS_REVISED),
    )
