"""maintenance-not-started — B12 deficiency treated, but no maintenance regimen in place.

When:
- a B12 deficiency was treated: B12 injections given or ordered (a loading course), a B12
  order written for B12 deficiency, or known deficiency (`facts.deficiency`) with any B12
  therapy in the record. An over-the-counter supplement in a patient never shown deficient is
  not a treated deficiency;
- and there is no maintenance regimen in place: no open B12 order or statement other than a
  finite loading course (an oral one re-asserted within the last year), and no injections
  spaced as maintenance (two latest >= 4 weeks apart);
- and no loading course is still running (a finite course before its scheduled end);
- and no maintenance order was ever ended (stopped, cancelled, completed): a regimen that was
  started and then stopped is judged by b12-therapy-stopped (lifelong in irreversible causes;
  stopping can be right after a reversible cause is corrected).
Then (warning): start maintenance — hydroxocobalamin 1 mg IM every 3 months (every
2 months with neurological involvement), for life when the cause cannot be corrected.
Guideline: BNF/SmPC hydroxocobalamin; local protocol (transition to maintenance after
loading); NICE NG239 1.1.3 (continue treatment).
Why: the protocol's transition point. Loading alone restores stores that run down again.
"""

from __future__ import annotations

from cds_service.record.model import Agent, Analyte, Source
from cds_service.rules.base import (
    GIVEN_ELSEWHERE,
    PATIENT_DECLINED,
    Finding,
    OverrideReason,
    ProposeB12Injection,
    RuleInput,
)
from cds_service.rules.facts.causes import (
    cause_lines,
    guideline_interval,
    irreversible_causes,
    neuro_involvement,
)
from cds_service.rules.facts.deficiency import known_deficiency
from cds_service.rules.facts.therapy import (
    last_injection,
    loading_course_running,
    maintenance_ended,
    maintenance_in_place,
    treated_deficiency,
)
from cds_service.rules.facts.wording import (
    condition_line,
    days_ago_text,
    interval_text,
    lab_line,
    med_line,
)
from cds_service.rules.guidelines import BNF_HYDROXOCOBALAMIN
from cds_service.rules.precedence import REPLACEMENT_GAP

RULE_ID = "maintenance-not-started"
HOOKS = ("patient-view",)
# Lab analytes read (directly or through `facts`): the reader parses no others for a hook.
READS = frozenset({Analyte.B12, Analyte.HOLOTC, Analyte.MMA, Analyte.HOMOCYSTEINE})
# Of those, read as a whole series (`record.results`); the others as their newest result.
SERIES = frozenset({Analyte.B12})
GUIDELINE = BNF_HYDROXOCOBALAMIN
REVERSIBLE_TREATED = OverrideReason(
    "reversible-cause-treated", "Reversible cause corrected; course completed on purpose"
)


def evaluate(inp: RuleInput) -> Finding | None:
    record, today, policy = inp.record, inp.today, inp.policy
    therapy = record.meds(Agent.B12)
    if not therapy:
        return None
    treated = list(treated_deficiency(record))
    if not treated:
        known = known_deficiency(record, policy)
        if not known:
            return None  # B12 taken, deficiency never shown: a supplement, not a treatment
        treated = [f"B12 deficiency: {known[0]}"]
    if maintenance_in_place(record, policy, today) or loading_course_running(record, today):
        return None
    if maintenance_ended(record):
        return None  # maintenance was started and later ended: b12-therapy-stopped's question

    interval = guideline_interval(record, policy)
    last = last_injection(record)
    if last is not None:
        days = last.when.days_before(today)
        summary = (
            f"B12 maintenance not started: last dose {last.when.text} "
            f"({days_ago_text(days)}), no regimen in place"
        )
    else:
        summary = "B12 therapy recorded but no maintenance regimen is in place"

    evidence = list(treated)
    evidence += [med_line(m) for m in therapy if m.source is not Source.ADMINISTRATION][:3]
    b12 = record.latest(Analyte.B12)
    if b12 is not None:
        evidence.append(lab_line(b12, "Latest B12"))
    causes = irreversible_causes(record, policy)
    evidence += cause_lines(causes)
    neuro = neuro_involvement(record, policy)
    if neuro:
        evidence.append(f"Neurological involvement: {condition_line(neuro[0])}")

    lifelong = " for life" if causes else ""
    because = (
        " (the shorter interval because of neurological involvement)"
        if neuro and interval < policy.days("maintenance")
        else ""
    )
    advice = (
        f"Start maintenance hydroxocobalamin 1 mg IM every {interval_text(interval)}"
        f"{lifelong}{because}"
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
                label=f"Order hydroxocobalamin 1 mg IM every {interval_text(interval)}",
                interval_days=interval,
                recommended=True,
            ),
        ),
        override_reasons=(GIVEN_ELSEWHERE, REVERSIBLE_TREATED, PATIENT_DECLINED),
        about=frozenset({REPLACEMENT_GAP}),
    )
