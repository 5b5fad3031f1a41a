"""b12-therapy-stopped — lifelong B12 missing or being stopped in an irreversible cause.

When (patient-view):
- an irreversible cause of malabsorption is recorded, whatever its clinical status
  (pernicious anaemia/autoimmune gastritis, gastrectomy, gastric bypass, resection of the
  ileum, short bowel; surgical history as a resolved condition or a completed procedure
  counts; Crohn's disease and small-bowel excision sparing the terminal ileum do not);
- and there is no current B12 therapy, worked out from time (`facts.therapy.coverage`): no
  dose within its interval plus grace and no regimen whose window covers today. An order left
  active after its course ended covers nothing; a dose recorded only as a MedicationStatement
  counts. A regimen in place that nothing confirms (an injection order with no dose recorded
  since, an oral order not renewed in a year) makes therapy unknown: at most a warning.
When (order-sign):
- a B12 order in the draft orders is being stopped or cancelled, the patient has an
  irreversible cause, and no replacement remains: no other B12 draft (injected, or oral at
  least 1 mg a day) and no other regimen in place (the last dose's cover is no replacement).
Then: critical for pernicious anaemia, gastric surgery or ileal resection with B12 deficiency
shown (now or in the past: the cause is permanent) when no regimen is in place, or the lapse has lasted longer than another full
interval (over twice the interval since the last dose); warning otherwise (a dose recently
missed in a regimen still in place; bariatric surgery without known deficiency). Suggest
keeping (or restarting) hydroxocobalamin 1 mg IM every 3 months (2 with neurological
involvement).
Does not fire for diet-, medicine- or nitrous-oxide-related deficiency (stopping can be right).
Guideline: NICE NG239 1.1.3 (lifelong for some causes); SmPC (prophylaxis after gastrectomy /
ileal resection); CKS (for life when not diet-related); local protocol (never discontinue).
Why: stopping in an irreversible cause leads back to deficiency and irreversible nerve damage.
"""

from __future__ import annotations

from datetime import timedelta

from cds_service.record.model import ENTERAL, Agent, Analyte, DraftOrder
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
from cds_service.rules.facts.causes import (
    LIFELONG_CRITICAL_CAUSES,
    cause_lines,
    guideline_interval,
    irreversible_causes,
)
from cds_service.rules.facts.deficiency import deficiency_history, known_deficiency
from cds_service.rules.facts.therapy import (
    coverage,
    injected,
    maintenance_in_place,
    maintenance_regimens,
    unconfirmed_line,
)
from cds_service.rules.facts.wording import condition_line, days_ago_text, interval_text
from cds_service.rules.guidelines import NICE_NG239
from cds_service.rules.precedence import REPLACEMENT_GAP

RULE_ID = "b12-therapy-stopped"
HOOKS = ("patient-view", "order-sign")
# Lab analytes read (directly or through `facts`): the reader parses no others for a hook.
READS = frozenset({Analyte.B12, Analyte.HOLOTC, Analyte.MMA, Analyte.HOMOCYSTEINE})
# Of those, read as a whole series (`record.results`); the others as their newest result.
SERIES = frozenset({Analyte.B12})
GUIDELINE = NICE_NG239
SWITCHED_ORAL = OverrideReason("switched-oral", "Switched to oral high-dose B12")
DIAGNOSIS_REVISED = OverrideReason("diagnosis-revised", "Diagnosis revised")


def _stops_without_replacement(inp: RuleInput) -> tuple[DraftOrder, ...]:
    if inp.orders is None:
        return ()
    stops = tuple(d for d in inp.orders.with_agent(Agent.B12, focus_only=True) if d.is_stop)
    if not stops:
        return ()
    stopped = {d.ref for d in stops}
    minimum = inp.policy.threshold("oral_dose_malabsorption_min_mg")
    replacement = [
        d
        for d in inp.orders.with_agent(Agent.B12)
        if not d.is_stop
        and d.status not in ("entered-in-error", "completed")
        and d.medication is not None
        # oral B12 below 1 mg a day (e.g. 50 micrograms) does not replace lifelong B12
        and not (
            d.medication.route in ENTERAL
            and not injected(d.medication)
            and (d.medication.b12_daily_mg or 0) < minimum
        )
    ]
    # what replaces the stopped order is another regimen, not the last dose's cover
    in_place = [
        r
        for r in maintenance_regimens(inp.record, inp.policy, inp.today)
        if r.use.ref not in stopped
    ]
    return () if replacement or in_place else stops


def evaluate(inp: RuleInput) -> Finding | None:
    record, policy, today = inp.record, inp.policy, inp.today
    causes = irreversible_causes(record, policy)
    if not causes:
        return None
    interval = guideline_interval(record, policy)
    # a deficiency shown once counts here, resolved or not: the cause is permanent
    deficiency = known_deficiency(record, policy) or deficiency_history(record, policy)
    lifelong = any(c.cause in LIFELONG_CRITICAL_CAUSES for c in causes)
    cause = next((c for c in causes if c.cause in LIFELONG_CRITICAL_CAUSES), causes[0])
    evidence = cause_lines(causes, limit=3)
    shown = {c.evidence.ref for c in causes}
    evidence += [
        line if line.startswith("History: ") else f"B12 deficiency: {line}"
        for line in deficiency[:2]
        if not any(line == condition_line(c.evidence) for c in causes if c.evidence.ref in shown)
    ]
    restart = ProposeB12Injection(
        label=f"Order hydroxocobalamin 1 mg IM every {interval_text(interval)}",
        interval_days=interval,
        recommended=True,
    )
    suggestions: tuple[SuggestionIntent, ...]

    if inp.hook == "order-sign":
        stops = _stops_without_replacement(inp)
        if not stops:
            return None
        indicator: Indicator = "critical" if deficiency and lifelong else "warning"
        summary = f"Stopping B12 in {cause.words}: lifelong replacement is needed"
        stop = stops[0]
        evidence.insert(
            0, f"Order being {stop.status}: {stop.medication.name if stop.medication else stop.ref}"
        )
        suggestions = (
            RemoveDraft(
                label="Keep the B12 order (discard the stop)", order_ref=stop.ref, recommended=True
            ),
        )
    else:
        current = coverage(record, policy, today)
        if current.current:
            return None
        in_place = maintenance_in_place(record, policy, today)
        lapse = (today - current.until).days if current.until is not None else None
        long_lapse = lapse is None or lapse > interval or not in_place
        # an order in place that no record confirms: therapy unknown, never critical
        indicator = (
            "critical"
            if deficiency and lifelong and long_lapse and not current.unknown
            else "warning"
        )
        last = current.last_dose
        if current.unknown:
            since = current.unconfirmed[0].start
            summary = (
                f"Lifelong B12 in {cause.words}: no dose recorded since the order of "
                f"{since.text if since else 'an unknown date'}"
            )
            if last is not None:
                evidence.append(f"Last B12 dose: {last.line()}")
        elif last is not None:
            days = last.when.days_before(today)
            evidence.append(f"Last B12 dose: {last.line()}, {days_ago_text(days)}")
            summary = f"No current B12 therapy in {cause.words}: last dose {last.when.text}"
        else:
            evidence.append("No B12 dose recorded")
            summary = f"No current B12 therapy in {cause.words}: lifelong replacement needed"
        if current.until is not None:
            due = current.until - timedelta(days=policy.days("grace"))
            evidence.append(
                f"Next dose was due by {due.isoformat()} (covered until "
                f"{current.until.isoformat()} with {policy.days('grace')} days' grace)"
            )
        evidence += [unconfirmed_line(r) for r in current.unconfirmed[:1]]
        if in_place and not current.unconfirmed:
            evidence.append("A maintenance regimen is still in place, but no dose covers today")
        suggestions = (restart,)
        if len(summary) > 139:
            summary = f"No current B12 therapy in {cause.words}"

    return Finding(
        rule_id=RULE_ID,
        indicator=indicator,
        summary=summary,
        guideline=GUIDELINE,
        evidence=tuple(evidence),
        advice=(
            f"B12 replacement is lifelong with {cause.words}; stopping may lead to irreversible "
            "neurological damage. Continue hydroxocobalamin 1 mg IM every "
            f"{interval_text(interval)}."
        ),
        caveats=tuple(g.message for g in record.gaps_about("b12", "conditions", "bundle")),
        suggestions=suggestions,
        override_reasons=(SWITCHED_ORAL, GIVEN_ELSEWHERE, DIAGNOSIS_REVISED),
        about=frozenset({REPLACEMENT_GAP}) if inp.hook == "patient-view" else frozenset(),
    )
