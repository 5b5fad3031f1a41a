"""symptoms-recurring — symptoms (PHQ-9) worsen on maintenance before the next dose is due.

When:
- the patient is on a maintenance regimen;
- the latest PHQ-9 total rose by >= 5 points from the one before, or crossed from < 10 to
  >= 10 (moderate);
- it was taken after the last injection and before the next one was due (last injection +
  expected interval); with no injections recorded (oral maintenance), within the last
  interval plus grace.
Then (info; warning when worsening has happened in >= 2 intervals, or new neurological
involvement is recorded since the last dose): consider a shorter interval (every 2 months
or monthly) and review other causes of low mood. PHQ-9 item 9 above 0 is called out.
Guideline: SmPC/BNF (increase frequency if symptoms recur); NICE NG239 1.1.3 (adjust
dose, frequency or route); local protocol (watch for depression before the next dose).
Why: many patients need individualised, shorter intervals to stay symptom-free.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

from cds_service.policy import Policy
from cds_service.record.model import Analyte, LabResult, PatientRecord, Route, Source
from cds_service.rules import facts
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
from cds_service.rules.guidelines import BNF_HYDROXOCOBALAMIN

RULE_ID = "symptoms-recurring"
HOOKS = ("patient-view",)
# Lab analytes read (directly or through `facts`): the reader parses no others for a hook.
READS = frozenset({Analyte.PHQ9, Analyte.PHQ9_ITEM9, Analyte.B12, Analyte.HOLOTC})
GUIDELINE = BNF_HYDROXOCOBALAMIN
OTHER_CAUSE = OverrideReason("other-cause", "Symptoms explained by another cause")


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


def evaluate(inp: RuleInput) -> Finding | None:
    record, today, policy = inp.record, inp.today, inp.policy
    if not facts.maintenance_in_place(record, today):
        return None
    scores = record.results(Analyte.PHQ9)
    if len(scores) < 2 or not _worse(scores[0], scores[1], policy):
        return None
    latest, previous = scores[0], scores[1]
    interval = facts.guideline_interval(record, policy)
    regimen = facts.im_maintenance_regimen(record, today)
    if regimen and regimen.interval_days and not regimen.interval_from_text:
        interval = round(regimen.interval_days)
    last = facts.last_injection(record)
    evidence = [
        f"PHQ-9 {previous.value:g} on {previous.when.text} → {latest.value:g} on {latest.when.text}",
    ]
    if last is not None and last.start is not None:
        due = last.start.latest + timedelta(days=interval)
        if not (last.start.earliest <= latest.when.latest and latest.when.earliest <= due):
            return None
        evidence.append(
            f"Last B12 injection {last.start.text}; next due by {due.isoformat()} "
            f"(every {facts.interval_text(interval)})"
        )
    elif latest.when.days_before(today) > interval + policy.days("grace"):
        return None

    indicator: Indicator = "info"
    start = facts.maintenance_start(record, today)
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
        for d in facts.neuro_involvement(record)
        if d.first_known and last and last.start and d.first_known.latest >= last.start.earliest
    ]
    if new_neuro:
        indicator = "warning"
        evidence.append(f"New neurological symptoms: {facts.condition_line(new_neuro[0])}")
    item9 = record.latest(Analyte.PHQ9_ITEM9)
    if item9 is not None and item9.when.earliest >= previous.when.earliest and item9.value > 0:
        evidence.append(
            f"PHQ-9 item 9 (self-harm thoughts) scored {item9.value:g}: assess risk today"
        )
    evidence += [facts.condition_line(d) for d in record.conditions_in("VS_DEPRESSION")[:1]]

    suggestions: list[SuggestionIntent] = []
    if (
        regimen is not None
        and regimen.source is Source.REQUEST
        and regimen.route is Route.INJECTION
    ):
        current = regimen.interval_days or 91
        for days, words in ((56, "every 8 weeks"), (28, "every 4 weeks")):
            if days < current - 1:
                suggestions.append(
                    ChangeOrderInterval(
                        label=f"Change hydroxocobalamin to {words}",
                        order_ref=regimen.ref,
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
