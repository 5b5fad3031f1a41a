"""maintenance-not-started — B12 deficiency treated, but no maintenance regimen in place.

When:
- B12 therapy is in the record: any given B12 dose (e.g. the loading injections), or any
  B12 order or statement;
- and there is no maintenance regimen: no ongoing B12 order/statement other than a finite
  loading course, and no injections spaced as maintenance (two latest >= 4 weeks apart);
- and no loading course is still running (an active finite course before its end);
- and no maintenance order was ever ended (stopped, cancelled, completed): a regimen that was
  started and then stopped is judged by b12-therapy-stopped (lifelong in irreversible causes;
  stopping can be right after a reversible cause is corrected).
Then (warning): start maintenance — hydroxocobalamin 1 mg IM every 3 months (every
2 months with neurological involvement), for life when the cause cannot be corrected.
Guideline: local protocol; BNF/SmPC hydroxocobalamin; NICE NG239 1.1.3 (continue treatment).
Why: the protocol's transition point. Loading alone restores stores that run down again.
"""

from __future__ import annotations

from cds_service.record.model import Agent, Analyte, Source
from cds_service.rules import facts
from cds_service.rules.base import (
    GIVEN_ELSEWHERE,
    PATIENT_DECLINED,
    Finding,
    OverrideReason,
    ProposeB12Injection,
    RuleInput,
)
from cds_service.rules.guidelines import PROTOCOL_MAINTENANCE

RULE_ID = "maintenance-not-started"
HOOKS = ("patient-view",)
# Lab analytes read (directly or through `facts`): the reader parses no others for a hook.
READS = frozenset({Analyte.B12, Analyte.HOLOTC})
GUIDELINE = PROTOCOL_MAINTENANCE
REVERSIBLE_TREATED = OverrideReason(
    "reversible-cause-treated", "Reversible cause corrected; course completed on purpose"
)


def evaluate(inp: RuleInput) -> Finding | None:
    record, today, policy = inp.record, inp.today, inp.policy
    therapy = tuple(m for m in record.meds(Agent.B12) if m.status != "entered-in-error")
    if not therapy:
        return None
    if facts.maintenance_in_place(record, today) or facts.loading_course_running(record, today):
        return None
    if facts.maintenance_ended(record):
        return None  # maintenance was started and later ended: b12-therapy-stopped's question

    interval = facts.guideline_interval(record, policy)
    last = facts.last_injection(record)
    if last is not None and last.start is not None:
        days = last.start.days_before(today)
        summary = (
            f"B12 maintenance not started: last dose {last.start.text} "
            f"({facts.days_ago_text(days)}), no regimen in place"
        )
    else:
        summary = "B12 therapy recorded but no maintenance regimen is in place"

    evidence = list(facts.injection_summary(record))
    evidence += [facts.med_line(m) for m in therapy if m.source is not Source.ADMINISTRATION][:3]
    b12 = record.latest(Analyte.B12)
    if b12 is not None:
        evidence.append(facts.lab_line(b12, "Latest B12"))
    causes = facts.irreversible_causes(record, policy)
    evidence += facts.cause_lines(causes)
    neuro = facts.neuro_involvement(record)
    if neuro:
        evidence.append(f"Neurological involvement: {facts.condition_line(neuro[0])}")

    lifelong = " for life" if causes else ""
    advice = (
        f"Start maintenance hydroxocobalamin 1 mg IM every {facts.interval_text(interval)}"
        f"{lifelong}"
        + (" (every 2 months because of neurological involvement)" if neuro else "")
        + ". Monthly injections suit some patients. Do not stop therapy because levels normalise."
    )
    return Finding(
        rule_id=RULE_ID,
        indicator="warning",
        summary=summary,
        guideline=GUIDELINE,
        evidence=tuple(evidence),
        advice=advice,
        caveats=tuple(g.message for g in record.gaps_about("b12", "bundle")),
        suggestions=(
            ProposeB12Injection(
                label=f"Order hydroxocobalamin 1 mg IM every {facts.interval_text(interval)}",
                interval_days=interval,
                recommended=True,
            ),
        ),
        override_reasons=(GIVEN_ELSEWHERE, REVERSIBLE_TREATED, PATIENT_DECLINED),
    )
