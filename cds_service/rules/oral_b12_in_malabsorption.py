"""oral-b12-in-malabsorption — oral B12 ordered for a patient with malabsorption.

When (order-select: the selected orders; order-sign: all draft orders):
- an oral B12 order (oral product, oral route, or oral dose form) is in focus;
- and malabsorption is recorded, current or history: pernicious anaemia/autoimmune gastritis,
  gastric surgery, bypass, ileal resection, short bowel, coeliac, Crohn's, other malabsorption.
Then: warning — IM hydroxocobalamin is standard and lifelong; if oral is chosen, at least
1 mg daily with a symptom review at 3 months (stronger wording when the dose is below 1 mg).
Critical when neurological involvement is recorded and there is no IM cover: no IM dose in the
last 3 months and no IM regimen in place.
Suggest replacing with hydroxocobalamin 1 mg IM, or raising the oral dose to 1 mg daily.
Guideline: local protocol (parenteral for life in malabsorption); BNF/SmPC; NICE NG239
(lifelong IM for autoimmune gastritis; oral >= 1 mg possible in some malabsorption: D3).
Why: low-dose oral B12 fails when absorption is the problem.
"""

from __future__ import annotations

from cds_service.record.model import Agent, Analyte, Route
from cds_service.rules import facts
from cds_service.rules.base import (
    PATIENT_DECLINED,
    ChangeOralDose,
    Finding,
    Indicator,
    OverrideReason,
    ReplaceWithB12Injection,
    RuleInput,
    SuggestionIntent,
)
from cds_service.rules.guidelines import BNF_HYDROXOCOBALAMIN

RULE_ID = "oral-b12-in-malabsorption"
HOOKS = ("order-select", "order-sign")
# Lab analytes read (directly or through `facts`): the reader parses no others for a hook.
READS = frozenset({Analyte.B12, Analyte.HOLOTC})
GUIDELINE = BNF_HYDROXOCOBALAMIN
PREFERENCE = OverrideReason("patient-preference", "Patient preference after informed discussion")
IM_UNSUITABLE = OverrideReason(
    "im-unsuitable", "IM contraindicated (e.g. bleeding risk) or not tolerated"
)


def evaluate(inp: RuleInput) -> Finding | None:
    if inp.orders is None:
        return None
    record, policy, today = inp.record, inp.policy, inp.today
    oral = [
        d
        for d in inp.orders.with_agent(Agent.B12, focus_only=True)
        if not d.is_stop and d.medication is not None and d.medication.route is Route.ORAL
    ]
    if not oral:
        return None
    causes = facts.irreversible_causes(record, policy)
    other = facts.other_malabsorption(record)
    if not causes and not other:
        return None
    order = oral[0]
    med = order.medication
    if med is None:  # filtered above; keeps the type checker honest
        return None
    cause_words = causes[0].words if causes else other[0].display
    minimum = policy.threshold("oral_dose_malabsorption_min_mg")
    low_dose = med.b12_dose_mg is not None and med.b12_dose_mg < minimum
    neuro = facts.neuro_involvement(record)
    # IM cover: a dose in the last 3 months, or an IM regimen still in place (doses may be
    # recorded elsewhere: an unrecorded dose alone never makes the card critical)
    recent_im = [
        m
        for m in facts.b12_injections_given(record)
        if m.start is not None and m.start.days_before(today) <= 91
    ] or [m for m in [facts.im_maintenance_regimen(record, today)] if m is not None]
    indicator: Indicator = "critical" if neuro and not recent_im else "warning"
    interval = facts.guideline_interval(record, policy)
    evidence = [
        f"Oral B12 ordered: {med.name}"
        + (f", {facts.dose_text(med.b12_dose_mg)} per dose" if med.b12_dose_mg else "")
    ]
    evidence += facts.cause_lines(causes, "Malabsorption", 2)
    evidence += [f"Malabsorption: {facts.condition_line(d)}" for d in other[:1]]
    if neuro:
        evidence.append(
            f"Neurological involvement: {facts.condition_line(neuro[0])}"
            + ("" if recent_im else "; no IM dose in the last 3 months and no IM order")
        )
    if low_dose and med.b12_dose_mg is not None:
        summary = f"Oral B12 {facts.dose_text(med.b12_dose_mg)} is too low for {cause_words}: use IM hydroxocobalamin"
    else:
        summary = (
            f"Oral B12 may be insufficient with {cause_words}: IM hydroxocobalamin is standard"
        )
    if len(summary) > 139:
        summary = "Oral B12 may be insufficient with malabsorption: IM hydroxocobalamin is standard"
    suggestions: list[SuggestionIntent] = [
        ReplaceWithB12Injection(
            label=f"Replace with hydroxocobalamin 1 mg IM every {facts.interval_text(interval)}",
            order_ref=order.ref,
            interval_days=interval,
            recommended=True,
        )
    ]
    if low_dose:
        suggestions.append(
            ChangeOralDose(
                label="Change the oral dose to 1 mg daily", order_ref=order.ref, dose_mg=1.0
            )
        )
    return Finding(
        rule_id=RULE_ID,
        indicator=indicator,
        summary=summary,
        guideline=GUIDELINE,
        evidence=tuple(evidence),
        advice=(
            "With malabsorption, parenteral B12 is the standard and is needed for life. If oral "
            "therapy is chosen after discussion, use at least 1 mg daily and review symptoms at "
            "3 months."
            + (" The ordered dose is below 1 mg and will not be enough." if low_dose else "")
        ),
        caveats=tuple(g.message for g in record.gaps_about("b12", "conditions", "bundle")),
        suggestions=tuple(suggestions),
        override_reasons=(PREFERENCE, IM_UNSUITABLE, PATIENT_DECLINED),
    )
