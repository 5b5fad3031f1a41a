"""homocysteine-above-target — the latest homocysteine is at or above target.

When:
- the latest usable homocysteine result (converted to umol/L) is at or above the target:
  10 umol/L by default (the original protocol), or the lab's reference-range upper limit when
  the policy asks for it. A censored value counts only if it proves the point (">15" yes, "<12" no).
Then: info; warning when the value has risen over the last two results and the patient is on
maintenance. Detail lists the non-B12 causes; suggest MMA and folate to find the cause.
Guideline: local protocol (target < 10 umol/L). No guideline sets this target (NICE NG239 uses
homocysteine as a test only; lab upper limits are 11-15 umol/L): the policy can change it.
Why: raised homocysteine on treatment may mean tissue B12 (or folate) is still short.
"""

from __future__ import annotations

from cds_service.record.model import Analyte
from cds_service.rules.base import (
    NOT_APPLICABLE,
    Finding,
    Indicator,
    OverrideReason,
    ProposeLabTests,
    RuleInput,
)
from cds_service.rules.facts.care import on_b12_maintenance
from cds_service.rules.facts.therapy import last_injection
from cds_service.rules.facts.wording import lab_line
from cds_service.rules.guidelines import LOCAL_PROTOCOL, local_protocol

RULE_ID = "homocysteine-above-target"
HOOKS = ("patient-view",)
# Lab analytes read (directly or through `facts`): the reader parses no others for a hook.
READS = frozenset({Analyte.B12, Analyte.HOLOTC, Analyte.MMA, Analyte.HOMOCYSTEINE, Analyte.FOLATE})
# Of those, read as a whole series (`record.results`); the others as their newest result.
SERIES = frozenset({Analyte.B12, Analyte.HOMOCYSTEINE})
GUIDELINE = LOCAL_PROTOCOL
OTHER_CAUSE = OverrideReason("other-cause", "Raised by a known non-B12 cause (e.g. renal)")


def evaluate(inp: RuleInput) -> Finding | None:
    record, policy, today = inp.record, inp.policy, inp.today
    results = record.results(Analyte.HOMOCYSTEINE)
    if not results:
        return None
    latest = results[0]
    target = policy.threshold("homocysteine_target_umol_l")
    source = "protocol target"
    if policy.thresholds.get("homocysteine_use_lab_reference_high") and latest.reference_high:
        target, source = latest.reference_high, "laboratory upper limit"
    if not latest.definitely_at_or_above(target):
        return None

    indicator: Indicator = "info"
    evidence = [lab_line(r, "Homocysteine") for r in results[:3]]
    evidence.append(f"Target: below {target:g} umol/L ({source})")
    on_maintenance = on_b12_maintenance(record, policy, today)
    if (
        len(results) >= 2
        and not results[1].comparator
        and latest.value > results[1].value
        and on_maintenance
    ):
        indicator = "warning"
        evidence.append("Rising on B12 maintenance")
    last = last_injection(record)
    if last is not None:
        evidence.append(f"Last B12 injection {last.when.text}")
    return Finding(
        rule_id=RULE_ID,
        indicator=indicator,
        summary=(
            f"Homocysteine {latest.normalised()} on {latest.when.text} is at or above the "
            f"target of {target:g} umol/L"
        ),
        guideline=(
            local_protocol(policy, f"homocysteine target below {target:g} umol/L")
            if source == "protocol target"
            else local_protocol(policy, "homocysteine above the laboratory's upper limit")
        ),
        evidence=tuple(evidence),
        advice=(
            "Check adherence and injection dates; consider MMA and folate. Other causes of raised "
            "homocysteine: renal impairment, folate or B6 deficiency, hypothyroidism, genetic "
            "variants (MTHFR), smoking and some medicines. If folate is low, treat B12 first or "
            "together with folate."
        ),
        caveats=tuple(g.message for g in record.gaps_about("homocysteine", "bundle")),
        suggestions=(
            ProposeLabTests(
                label="Order MMA and serum folate",
                analytes=(Analyte.MMA, Analyte.FOLATE),
                recommended=True,
            ),
        ),
        override_reasons=(OTHER_CAUSE, NOT_APPLICABLE),
    )
