"""neurological-review — new neurological involvement in B12 deficiency, no alternate-day course.

When:
- a neurological condition that is current was first recorded (onset, else recorded date) in
  the last 30 days: neuropathy, paraesthesia, numbness, ataxia, subacute combined
  degeneration; memory impairment or cognitive disorder only when the record links it to the
  deficiency (`facts.causes.neuro_involvement`);
- in a patient with B12 deficiency shown by more than the total B12 (`facts.deficiency`): a
  low total or active B12, raised MMA or homocysteine (functional deficiency: total B12 can be
  normal after nitrous oxide, NICE NG239), recorded nitrous oxide use, a coded B12
  neurological complication or current deficiency; or a treated deficiency (B12 injections
  given or ordered, a B12 order for deficiency). An over-the-counter supplement alone is not;
- and no alternate-day course: fewer than 3 B12 injections in the last 14 days and no B12
  injection regimen every 2 days or more often in place.
Then: warning; critical with subacute combined degeneration (G32.0). Suggest hydroxocobalamin
1 mg IM on alternate days until no further improvement, then every 2 months; seek urgent
specialist (haematology/neurology) advice, same day if SCD is suspected.
Guideline: BNF/SmPC hydroxocobalamin; NICE CKS; BSH 2014; NICE NG239 (nitrous oxide).
Why: under-treated neurological involvement can leave permanent deficit.
"""

from __future__ import annotations

from cds_service.record.model import Analyte
from cds_service.rules.base import (
    SPECIALIST_PLAN,
    Finding,
    Indicator,
    OverrideReason,
    ProposeB12Injection,
    RuleInput,
)
from cds_service.rules.facts.causes import neuro_involvement
from cds_service.rules.facts.deficiency import deficiency_evidence
from cds_service.rules.facts.therapy import injections, maintenance_regimens, treated_deficiency
from cds_service.rules.facts.wording import condition_line, interval_text
from cds_service.rules.guidelines import BNF_HYDROXOCOBALAMIN

RULE_ID = "neurological-review"
HOOKS = ("patient-view",)
# Lab analytes read (directly or through `facts`): the reader parses no others for a hook.
READS = frozenset({Analyte.B12, Analyte.HOLOTC, Analyte.MMA, Analyte.HOMOCYSTEINE})
# Of those, read as a whole series (`record.results`); the others as their newest result.
SERIES = frozenset({Analyte.B12})
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
        for d in neuro_involvement(record, policy)
        if d.is_current
        and d.first_known is not None
        and d.first_known.earliest <= today  # a partial date ("2026-11") may cover today
        and d.first_known.days_before(today) <= window
    ]
    if not new:
        return None
    deficiency = [e.line for e in deficiency_evidence(record, policy)]
    treated = treated_deficiency(record)
    if not deficiency and not treated:
        return None
    recent = [
        d
        for d in injections(record)
        if d.when.days_before(today) <= policy.days("alternate_day_window")
    ]
    alternate_regimen = [
        r
        for r in maintenance_regimens(record, policy, today)
        if r.parenteral and r.interval is not None and r.interval <= 2
    ]
    if len(recent) >= policy.days("alternate_day_min_doses") or alternate_regimen:
        return None

    scd = any(d.code in SCD_CODES for d in record.conditions_in("VS_NEURO"))
    indicator: Indicator = "critical" if scd else "warning"
    evidence = [f"New: {condition_line(d)}" for d in new[:3]]
    listed = [condition_line(d) for d in new[:3]]
    evidence += [
        f"Evidence of deficiency: {line}"
        for line in deficiency[:3]
        if not any(item in line for item in listed)  # SCD is new and evidence: named once
    ]
    if not deficiency:
        evidence += [f"Deficiency treated: {line}" for line in treated[:1]]
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
            f"until no further improvement, then every "
            f"{interval_text(inp.policy.days('maintenance_neuro'))}; seek {urgency} "
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
