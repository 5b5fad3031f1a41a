"""neurological-review — new neurological involvement in B12 deficiency, no alternate-day course.

When:
- a neurological condition (neuropathy, paraesthesia, ataxia, cognitive change, SCD) that is
  current was first recorded (onset, else recorded date) in the last 30 days;
- in a patient with B12 deficiency: a coded deficiency, a deficient B12/active B12 result,
  or B12 therapy in the record;
- and no alternate-day course: fewer than 3 B12 injections in the last 14 days and no active
  B12 injection order every 2 days or more often.
Then: warning; critical with subacute combined degeneration (G32.0). Suggest hydroxocobalamin
1 mg IM on alternate days until no further improvement, then every 2 months; seek urgent
specialist (haematology/neurology) advice, same day if SCD is suspected.
Guideline: BNF/SmPC hydroxocobalamin; NICE CKS; BSH 2014.
Why: under-treated neurological involvement can leave permanent deficit.
"""

from __future__ import annotations

from cds_service.record.model import Agent, Analyte, Route
from cds_service.rules import facts
from cds_service.rules.base import (
    SPECIALIST_PLAN,
    Finding,
    Indicator,
    OverrideReason,
    ProposeB12Injection,
    RuleInput,
)
from cds_service.rules.guidelines import BNF_HYDROXOCOBALAMIN

RULE_ID = "neurological-review"
HOOKS = ("patient-view",)
# Lab analytes read (directly or through `facts`): the reader parses no others for a hook.
READS = frozenset({Analyte.B12, Analyte.HOLOTC})
GUIDELINE = BNF_HYDROXOCOBALAMIN
SCD_CODES = frozenset(
    {"http://hl7.org/fhir/sid/icd-10-cm|G32.0", "http://hl7.org/fhir/sid/icd-10|G32.0"}
)
NOT_B12 = OverrideReason("not-b12-related", "Symptoms have another established cause")


def evaluate(inp: RuleInput) -> Finding | None:
    record, policy, today = inp.record, inp.policy, inp.today
    window = policy.days("neuro_new_window")
    new = [
        d
        for d in record.conditions_in("VS_NEURO", current_only=True)
        if d.first_known is not None
        and d.first_known.earliest <= today  # a partial date ("2026-11") may cover today
        and d.first_known.days_before(today) <= window
    ]
    if not new:
        return None
    deficiency = facts.deficiency_evidence(record, policy)
    therapy = record.meds(Agent.B12)
    if not deficiency and not therapy:
        return None
    recent = [
        m
        for m in facts.b12_injections_given(record)
        if m.start is not None and m.start.days_before(today) <= policy.days("alternate_day_window")
    ]
    alternate_order = [
        m
        for m in facts.ongoing_b12(record, today)
        if m.route is Route.INJECTION and m.interval_days is not None and m.interval_days <= 2
    ]
    if len(recent) >= policy.days("alternate_day_min_doses") or alternate_order:
        return None

    scd = any(d.code in SCD_CODES for d in record.conditions_in("VS_NEURO"))
    indicator: Indicator = "critical" if scd else "warning"
    evidence = [f"New: {facts.condition_line(d)}" for d in new[:3]]
    evidence += [f"B12 deficiency: {line}" for line in deficiency[:2]]
    if not deficiency:
        evidence.append("On B12 therapy (deficiency treated)")
    evidence.append(
        f"B12 injections in the last {policy.days('alternate_day_window')} days: {len(recent)}"
    )
    urgency = (
        "same-day specialist assessment for suspected SCD" if scd else "urgent specialist advice"
    )
    return Finding(
        rule_id=RULE_ID,
        indicator=indicator,
        summary="New neurological symptoms in B12 deficiency: alternate-day hydroxocobalamin and urgent advice",
        guideline=GUIDELINE,
        evidence=tuple(evidence),
        advice=(
            "BNF regimen with neurological involvement: hydroxocobalamin 1 mg IM on alternate days "
            f"until no further improvement, then every 2 months; seek {urgency} "
            "(haematology/neurology)."
        ),
        caveats=tuple(g.message for g in record.gaps_about("conditions", "b12", "bundle")),
        suggestions=(
            ProposeB12Injection(
                label="Hydroxocobalamin 1 mg IM on alternate days until no further improvement",
                interval_days=2,
                recommended=True,
            ),
        ),
        override_reasons=(NOT_B12, SPECIALIST_PLAN),
    )
