"""oral-b12-in-malabsorption — oral B12 ordered for a patient with malabsorption.

When (order-select: the selected orders; order-sign: all draft orders):
- an oral or sublingual B12 order is in focus: any product whose B12 is at a replacement
  strength (`b12_replacement_min_mg`, 50 micrograms), recognised by code or by name (RxNorm's
  "Vitamin B 12 1 MG Oral Tablet", "B-12", "mecobalamin"...), its route from the order's
  dosage route, else the dose form, else its words;
- and malabsorption is recorded, current or history: pernicious anaemia/autoimmune gastritis,
  gastric surgery, bypass, resection of the ileum, short bowel, coeliac, Crohn's, other
  malabsorption.
Then: warning — IM hydroxocobalamin is standard and lifelong; if oral is chosen, at least
1 mg daily with a symptom review at 3 months (stronger wording when the daily dose is below
1 mg). Critical when neurological involvement is recorded and there is no IM cover: no
injection covering today and no IM regimen in place.
Suggest replacing with hydroxocobalamin 1 mg IM, or raising the oral dose to 1 mg daily.
Guideline: local protocol (parenteral for life in malabsorption); BNF/SmPC; NICE NG239
(lifelong IM for autoimmune gastritis; oral >= 1 mg possible in some malabsorption: D3).
Why: low-dose oral B12 fails when absorption is the problem.
"""

from __future__ import annotations

from cds_service.record.model import ENTERAL, Agent, Analyte, Basis
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
from cds_service.rules.facts.causes import (
    cause_lines,
    guideline_interval,
    irreversible_causes,
    neuro_involvement,
    other_malabsorption,
)
from cds_service.rules.facts.therapy import coverage, im_maintenance_regimen, injected
from cds_service.rules.facts.wording import condition_line, dose_text, interval_text, says_route
from cds_service.rules.guidelines import BNF_HYDROXOCOBALAMIN

RULE_ID = "oral-b12-in-malabsorption"
HOOKS = ("order-select", "order-sign")
# Lab analytes read (directly or through `facts`): the reader parses no others for a hook.
READS = frozenset({Analyte.B12})
# Of those, read as a whole series (`record.results`); the others as their newest result.
SERIES = frozenset({Analyte.B12})
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
        if not d.is_stop
        and d.medication is not None
        and d.medication.route in ENTERAL
        and not injected(d.medication)
    ]
    if not oral:
        return None
    causes = irreversible_causes(record, policy)
    other = other_malabsorption(record)
    if not causes and not other:
        return None
    order = oral[0]
    med = order.medication
    if med is None:  # filtered above; keeps the type checker honest
        return None
    cause_words = causes[0].words if causes else other[0].display
    minimum = policy.threshold("oral_dose_malabsorption_min_mg")
    daily = med.b12_daily_mg if med.b12_daily_mg is not None else med.b12_dose_mg
    low_dose = daily is not None and daily < minimum
    neuro = neuro_involvement(record, policy)
    # IM cover: an injection covering today, or an IM regimen in place (doses may be recorded
    # elsewhere: an unrecorded dose alone never makes the card critical)
    current = coverage(record, policy, today)
    im_cover = any(c.parenteral for c in current.covers) or (
        im_maintenance_regimen(record, policy, today) is not None
    )
    indicator: Indicator = "critical" if neuro and not im_cover else "warning"
    interval = guideline_interval(record, policy)
    how: list[str] = []
    if not says_route(med.name, med.route):
        how.append(med.route.value)
    if med.b12_daily_mg is not None:
        assumed = " (one a day assumed)" if med.dose_basis is Basis.ASSUMED else ""
        how.append(f"{dose_text(med.b12_daily_mg)} of B12 a day{assumed}")
    elif med.b12_dose_mg is not None:
        how.append(f"{dose_text(med.b12_dose_mg)} of B12 a dose")
    evidence = [f"Ordered: {med.name}" + (f" ({', '.join(how)})" if how else "")]
    evidence += cause_lines(causes, "Malabsorption", 2)
    evidence += [f"Malabsorption: {condition_line(d)}" for d in other[:1]]
    if neuro:
        evidence.append(
            f"Neurological involvement: {condition_line(neuro[0])}"
            + ("" if im_cover else "; no injection covering today and no IM order")
        )
    if low_dose and daily is not None:
        summary = f"Oral B12 {dose_text(daily)} a day is too low for {cause_words}: use IM hydroxocobalamin"
    else:
        summary = (
            f"Oral B12 may be insufficient with {cause_words}: IM hydroxocobalamin is standard"
        )
    if len(summary) > 139:
        summary = "Oral B12 may be insufficient with malabsorption: IM hydroxocobalamin is standard"
    suggestions: list[SuggestionIntent] = [
        ReplaceWithB12Injection(
            label=f"Replace with hydroxocobalamin 1 mg IM every {interval_text(interval)}",
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
            + (" The ordered dose is below 1 mg a day and will not be enough." if low_dose else "")
        ),
        caveats=tuple(
            g.message
            for g in (
                *record.gaps_about("b12", "conditions", "bundle"),
                *inp.orders.gaps_about("b12"),
            )
        ),
        suggestions=tuple(suggestions),
        override_reasons=(PREFERENCE, IM_UNSUITABLE, PATIENT_DECLINED),
    )
