"""maintenance-injection-overdue — on IM maintenance and the last dose is older than due.

When:
- the patient is on IM maintenance: an injection regimen in place (ordered or stated, not a
  finite loading course, its window open), or injections already spaced as maintenance (two
  latest >= 4 weeks apart);
- and the last injection the record shows (a given administration, a MedicationStatement
  with its date, or a procedure) is older than the expected interval plus grace (14 days).
  Expected interval: 3 months (91 days), or 2 months (61 days) with neurological involvement;
  a shorter ordered interval (e.g. monthly) is used when the order gives one (not from text).
- With no injection recorded at all, and the order older than interval plus grace: an info
  card asking to check administration recording (never an overdue card on missing data).
Then: warning "B12 injection overdue"; critical when more than twice the interval has passed
and there is neurological involvement or an irreversible cause. Suggest one dose now.
The same missed dose is "no current B12 therapy" in an irreversible cause: one card carries
both (`rules.precedence`).
Guideline: BNF/SmPC hydroxocobalamin (every 3 months; every 2 months with neurological
involvement); CKS (every 2-3 months for life); local protocol.
Why: missed maintenance doses let deficiency and neurological damage return.
"""

from __future__ import annotations

from cds_service.record.model import Analyte
from cds_service.rules.base import (
    GIVEN_ELSEWHERE,
    PATIENT_DECLINED,
    SPECIALIST_PLAN,
    Finding,
    Indicator,
    ProposeB12Injection,
    RuleInput,
)
from cds_service.rules.facts.causes import (
    cause_lines,
    guideline_interval,
    irreversible_causes,
    neuro_involvement,
)
from cds_service.rules.facts.therapy import (
    MIN_MAINTENANCE_INTERVAL_DAYS,
    im_maintenance_regimen,
    injection_summary,
    last_injection,
    on_im_maintenance,
)
from cds_service.rules.facts.wording import days_ago_text, interval_text, med_line
from cds_service.rules.guidelines import BNF_HYDROXOCOBALAMIN
from cds_service.rules.precedence import REPLACEMENT_GAP

RULE_ID = "maintenance-injection-overdue"
HOOKS = ("patient-view",)
# Lab analytes read (directly or through `facts`): the reader parses no others for a hook.
READS = frozenset({Analyte.B12})
# Of those, read as a whole series (`record.results`); the others as their newest result.
SERIES = frozenset({Analyte.B12})
GUIDELINE = BNF_HYDROXOCOBALAMIN


def evaluate(inp: RuleInput) -> Finding | None:
    record, today, policy = inp.record, inp.today, inp.policy
    if not on_im_maintenance(record, policy, today):
        return None
    regimen = im_maintenance_regimen(record, policy, today)
    interval = guideline_interval(record, policy)
    neuro = neuro_involvement(record, policy)
    basis = "neurological involvement" if neuro else "guideline"
    ordered = regimen.use if regimen is not None else None
    if (
        ordered is not None
        and ordered.interval_days is not None
        and not ordered.interval_from_text
        and MIN_MAINTENANCE_INTERVAL_DAYS <= ordered.interval_days < interval
    ):
        interval = round(ordered.interval_days)
        basis = "as ordered"
    grace = policy.days("grace")
    caveats = [g.message for g in record.gaps_about("b12", "bundle")]

    last = last_injection(record)
    if last is None:
        started = regimen.start if regimen is not None else None
        if started is not None and started.days_before(today) <= interval + grace:
            return None
        return Finding(
            rule_id=RULE_ID,
            indicator="info",
            summary="No B12 injections recorded on IM maintenance: check administration recording",
            guideline=GUIDELINE,
            evidence=tuple(med_line(m) for m in ([ordered] if ordered else [])),
            advice="Record injections given here or elsewhere, so that the next due date can be tracked.",
            caveats=(
                *caveats,
                "No B12 injection (administration, statement or procedure) was found.",
            ),
            override_reasons=(GIVEN_ELSEWHERE,),
            about=frozenset({REPLACEMENT_GAP}),
        )

    days = last.when.days_before(today)
    if days <= interval + grace:
        return None
    causes = irreversible_causes(record, policy)
    indicator: Indicator = "warning"
    if days > 2 * interval and (neuro or causes):
        indicator = "critical"
    if not last.when.exact:
        caveats.append(
            f"The last injection date is recorded only as {last.when.text}; "
            "days are counted from the latest possible day."
        )
    evidence = [
        f"Last B12 injection: {last.line()}, {days_ago_text(days)}",
        f"Expected interval: {interval_text(interval)} ({basis}) plus {grace} days' grace",
        *injection_summary(record),
    ]
    if ordered is not None:
        evidence.append(f"Maintenance order: {med_line(ordered)}")
    evidence += cause_lines(causes, limit=1)
    return Finding(
        rule_id=RULE_ID,
        indicator=indicator,
        summary=f"B12 injection overdue: last given {last.when.text}, {days} days ago",
        guideline=GUIDELINE,
        evidence=tuple(evidence),
        advice=(
            "Give hydroxocobalamin 1 mg IM now and book the next dose; if symptoms returned "
            "before the dose was due, consider a shorter interval."
        ),
        caveats=tuple(caveats),
        suggestions=(
            ProposeB12Injection(
                label="Order one dose of hydroxocobalamin 1 mg IM now", doses=1, recommended=True
            ),
        ),
        override_reasons=(GIVEN_ELSEWHERE, PATIENT_DECLINED, SPECIALIST_PLAN),
        about=frozenset({REPLACEMENT_GAP}),
    )
