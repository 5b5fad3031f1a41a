"""maintenance-injection-overdue — on IM maintenance and the last dose is older than due.

When:
- the patient is on IM maintenance: an ongoing B12 injection order/statement that is not a
  finite loading course, or injections already spaced as maintenance (two latest >= 4 weeks apart);
- and the last given injection is older than the expected interval plus grace (14 days).
  Expected interval: 3 months (91 days), or 2 months (61 days) with neurological involvement;
  a shorter ordered interval (e.g. monthly) is used when the order gives one (not from free text).
- With no injection recorded at all, and the order older than interval plus grace: an info
  card asking to check administration recording (never an overdue card on missing data).
Then: warning "B12 injection overdue"; critical when more than twice the interval has passed
and there is neurological involvement or an irreversible cause. Suggest one dose now.
Guideline: BNF/SmPC hydroxocobalamin (every 3 months; every 2 months with neurological
involvement); CKS (every 2-3 months for life); local protocol.
Why: missed maintenance doses let deficiency and neurological damage return.
"""

from __future__ import annotations

from cds_service.record.model import Analyte
from cds_service.rules import facts
from cds_service.rules.base import (
    GIVEN_ELSEWHERE,
    PATIENT_DECLINED,
    SPECIALIST_PLAN,
    Finding,
    Indicator,
    ProposeB12Injection,
    RuleInput,
)
from cds_service.rules.guidelines import BNF_HYDROXOCOBALAMIN

RULE_ID = "maintenance-injection-overdue"
HOOKS = ("patient-view",)
# Lab analytes read (directly or through `facts`): the reader parses no others for a hook.
READS = frozenset({Analyte.B12, Analyte.HOLOTC})
GUIDELINE = BNF_HYDROXOCOBALAMIN


def evaluate(inp: RuleInput) -> Finding | None:
    record, today, policy = inp.record, inp.today, inp.policy
    if not facts.on_im_maintenance(record, today):
        return None
    regimen = facts.im_maintenance_regimen(record, today)
    interval = facts.guideline_interval(record, policy)
    basis = (
        "neurological involvement: every 2 months"
        if facts.neuro_involvement(record)
        else ("guideline: every 3 months")
    )
    if (
        regimen is not None
        and regimen.interval_days is not None
        and not regimen.interval_from_text
        and facts.MIN_MAINTENANCE_INTERVAL_DAYS <= regimen.interval_days < interval
    ):
        interval = round(regimen.interval_days)
        basis = f"as ordered: every {facts.interval_text(regimen.interval_days)}"
    grace = policy.days("grace")
    caveats = [g.message for g in inp.record.gaps_about("b12", "bundle")]

    last = facts.last_injection(record)
    if last is None or last.start is None:
        started = regimen.start if regimen is not None else None
        if started is not None and started.days_before(today) <= interval + grace:
            return None
        return Finding(
            rule_id=RULE_ID,
            indicator="info",
            summary="No B12 injections recorded on IM maintenance: check administration recording",
            guideline=GUIDELINE,
            evidence=tuple(facts.med_line(m) for m in ([regimen] if regimen else [])),
            advice="Record injections given here or elsewhere, so that the next due date can be tracked.",
            caveats=(*caveats, "No MedicationAdministration for B12 was found in the record."),
            override_reasons=(GIVEN_ELSEWHERE,),
        )

    days = last.start.days_before(today)
    if days <= interval + grace:
        return None
    causes = facts.irreversible_causes(record, policy)
    indicator: Indicator = "warning"
    if days > 2 * interval and (facts.neuro_involvement(record) or causes):
        indicator = "critical"
    if not last.start.exact:
        caveats.append(
            f"The last injection date is recorded only as {last.start.text}; "
            "days are counted from the latest possible day."
        )
    evidence = [
        f"Last B12 injection: {last.name} on {last.start.text} ({facts.days_ago_text(days)})",
        f"Expected interval: {facts.interval_text(interval)} ({basis}) plus {grace} days' grace",
        *facts.injection_summary(record),
    ]
    if regimen is not None:
        evidence.append(f"Maintenance order: {facts.med_line(regimen)}")
    evidence += facts.cause_lines(causes, limit=1)
    return Finding(
        rule_id=RULE_ID,
        indicator=indicator,
        summary=f"B12 injection overdue: last given {last.start.text}, {days} days ago",
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
    )
