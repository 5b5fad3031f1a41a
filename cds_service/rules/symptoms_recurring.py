"""symptoms-recurring — symptoms (PHQ-9) worsen on maintenance before the next dose is due,
and a PHQ-9 answer of thoughts of self-harm is never a line inside another card.

When (self-harm, first and on its own):
- the latest PHQ-9 item 9 answer ("thoughts that you would be better off dead, or of hurting
  yourself") is above 0 and was given in the last 30 days (`phq9_item9_window`), whatever the
  total score did and whether or not the patient is on maintenance.
Then: critical, a card of its own led by what to do today (assess suicide risk, safety plan,
urgent mental-health referral when risk is high); never held back by an earlier override.
When (recurrence):
- the patient is on a maintenance regimen;
- the latest PHQ-9 total rose by >= 5 points from the one before, or crossed from < 10 to
  >= 10 (moderate);
- it was taken after the last injection and before the next one was due (last injection +
  expected interval); with no injections recorded (oral maintenance), within the last
  interval plus grace.
Then (info; warning when worsening has happened in >= 2 intervals, or new neurological
involvement is recorded since the last dose): consider a shorter interval (every 2 months
or monthly) and review other causes of low mood. With a self-harm answer as well, the
critical card carries this too.
Guideline: SmPC/BNF (increase frequency if symptoms recur); NICE NG239 1.1.3 (adjust
dose, frequency or route); local protocol (watch for depression before the next dose);
PHQ-9 item 9 and NICE NG225 (self-harm) for the safety card.
Why: many patients need individualised, shorter intervals to stay symptom-free; a positive
self-harm answer needs a clinician today.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

from cds_service.policy import Policy
from cds_service.record.model import Analyte, LabResult, PatientRecord, Source
from cds_service.rules.base import (
    NOT_APPLICABLE,
    SPECIALIST_PLAN,
    ChangeOrderInterval,
    Finding,
    Indicator,
    OverrideReason,
    RuleInput,
    SuggestionIntent,
)
from cds_service.rules.facts.care import on_b12_maintenance
from cds_service.rules.facts.causes import guideline_interval, neuro_involvement
from cds_service.rules.facts.therapy import (
    im_maintenance_regimen,
    last_injection,
    maintenance_start,
)
from cds_service.rules.facts.wording import condition_line, interval_text
from cds_service.rules.guidelines import BNF_HYDROXOCOBALAMIN, NICE_NG225_SELF_HARM

RULE_ID = "symptoms-recurring"
HOOKS = ("patient-view",)
# Lab analytes read (directly or through `facts`): the reader parses no others for a hook.
READS = frozenset(
    {
        Analyte.B12,
        Analyte.HOLOTC,
        Analyte.MMA,
        Analyte.HOMOCYSTEINE,
        Analyte.PHQ9,
        Analyte.PHQ9_ITEM9,
    }
)
# Of those, read as a whole series (`record.results`); the others as their newest result.
SERIES = frozenset({Analyte.B12, Analyte.PHQ9})
GUIDELINE = BNF_HYDROXOCOBALAMIN
OTHER_CAUSE = OverrideReason("other-cause", "Symptoms explained by another cause")
RISK_ASSESSED = OverrideReason("risk-assessed", "Suicide risk assessed today; safety plan in place")
UNDER_CARE = OverrideReason(
    "under-mental-health-care", "Already under crisis or mental health team care"
)


def _worse(newer: LabResult, older: LabResult, policy: Policy) -> bool:
    if newer.comparator or older.comparator:
        return False
    moderate = policy.threshold("phq9_moderate")
    rise = newer.value - older.value >= policy.threshold("phq9_rise_points")
    crossed = older.value < moderate <= newer.value
    return rise or crossed


def worsening_pairs(
    record: PatientRecord, policy: Policy
) -> tuple[tuple[LabResult, LabResult], ...]:
    """Consecutive PHQ-9 pairs (newer, older) where the score worsened."""
    scores = record.results(Analyte.PHQ9)
    return tuple(
        (newer, older)
        for newer, older in itertools.pairwise(scores)
        if _worse(newer, older, policy)
    )


def _self_harm(inp: RuleInput) -> LabResult | None:
    """The latest PHQ-9 item 9 answer when it is above 0 and recent."""
    item9 = inp.record.latest(Analyte.PHQ9_ITEM9)
    if item9 is None or item9.comparator is not None or item9.value <= 0:
        return None
    days = item9.when.days_before(inp.today)
    if item9.when.earliest > inp.today or days > inp.policy.days("phq9_item9_window"):
        return None
    return item9


def _recurrence(inp: RuleInput) -> Finding | None:
    record, today, policy = inp.record, inp.today, inp.policy
    if not on_b12_maintenance(record, policy, today):
        return None
    scores = record.results(Analyte.PHQ9)
    if len(scores) < 2 or not _worse(scores[0], scores[1], policy):
        return None
    latest, previous = scores[0], scores[1]
    interval = guideline_interval(record, policy)
    regimen = im_maintenance_regimen(record, policy, today)
    if regimen and regimen.interval and not regimen.use.interval_from_text:
        interval = round(regimen.interval)
    last = last_injection(record)
    evidence = [
        f"PHQ-9 {previous.value:g} on {previous.when.text} → {latest.value:g} on {latest.when.text}",
    ]
    if last is not None:
        due = last.when.latest + timedelta(days=interval)
        if not (last.when.earliest <= latest.when.latest and latest.when.earliest <= due):
            return None
        evidence.append(
            f"Last B12 injection {last.when.text}; next due by {due.isoformat()} "
            f"(every {interval_text(interval)})"
        )
    elif latest.when.days_before(today) > interval + policy.days("grace"):
        return None

    indicator: Indicator = "info"
    start = maintenance_start(record, policy, today)
    on_maintenance = [
        newer
        for newer, _ in worsening_pairs(record, policy)
        if start is None or newer.when.latest >= start.earliest
    ]
    if len(on_maintenance) >= 2:
        indicator = "warning"
        evidence.append("PHQ-9 has worsened in more than one interval")
    new_neuro = [
        d
        for d in neuro_involvement(record, policy)
        if d.first_known and last and d.first_known.latest >= last.when.earliest
    ]
    if new_neuro:
        indicator = "warning"
        evidence.append(f"New neurological symptoms: {condition_line(new_neuro[0])}")
    evidence += [condition_line(d) for d in record.conditions_in("VS_DEPRESSION")[:1]]

    suggestions: list[SuggestionIntent] = []
    if regimen is not None and regimen.use.source is Source.REQUEST:
        current = regimen.interval or 91
        for days, words in ((56, "every 8 weeks"), (28, "every 4 weeks")):
            if days < current - 1:
                suggestions.append(
                    ChangeOrderInterval(
                        label=f"Change hydroxocobalamin to {words}",
                        order_ref=regimen.use.ref,
                        interval_days=days,
                        recommended=not suggestions,
                    )
                )
    return Finding(
        rule_id=RULE_ID,
        indicator=indicator,
        summary=(
            f"Symptoms returning before the next B12 dose: PHQ-9 {previous.value:g} → "
            f"{latest.value:g}; consider a shorter interval"
        ),
        guideline=GUIDELINE,
        evidence=tuple(evidence),
        advice=(
            "Consider shortening the injection interval (every 2 months or monthly) and review "
            "other causes of low mood."
        ),
        caveats=tuple(g.message for g in record.gaps_about("phq9", "bundle")),
        suggestions=tuple(suggestions),
        override_reasons=(OTHER_CAUSE, SPECIALIST_PLAN, NOT_APPLICABLE),
    )


def evaluate(inp: RuleInput) -> Finding | None:
    recurrence = _recurrence(inp)
    item9 = _self_harm(inp)
    if item9 is None:
        return recurrence
    evidence = [
        f"PHQ-9 item 9 (thoughts of being better off dead or of self-harm) answered "
        f"{item9.value:g} of 3 on {item9.when.text}",
    ]
    if recurrence is not None:
        evidence.append(f"Also: {recurrence.summary}")
        evidence += list(recurrence.evidence)
    return Finding(
        rule_id=RULE_ID,
        indicator="critical",
        summary=f"PHQ-9 item 9 answered {item9.value:g} on {item9.when.text}: assess self-harm risk today",
        guideline=NICE_NG225_SELF_HARM,
        evidence=tuple(evidence),
        advice=(
            "Ask today, directly, about thoughts of suicide or self-harm, plans and intent; agree a "
            "safety plan; refer urgently to the crisis or mental health team if risk is high, and "
            "do not leave a person at immediate risk alone. Record the assessment."
            + (f" Then: {recurrence.advice}" if recurrence is not None else "")
        ),
        caveats=tuple(g.message for g in inp.record.gaps_about("phq9", "phq9-item9", "bundle")),
        suggestions=recurrence.suggestions if recurrence is not None else (),
        override_reasons=(RISK_ASSESSED, UNDER_CARE),
        safety=True,
    )
