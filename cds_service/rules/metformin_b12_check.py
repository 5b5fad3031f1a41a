"""metformin-b12-check — long-term metformin, risk factors, and no B12 result in 12 months.

When:
- the patient is on metformin now (active order or statement), first recorded >= 4 months ago;
- no B12 status result (total B12, active B12 or MMA) in the last 12 months;
- not already on B12 therapy (then B12 levels tell little and other rules apply);
- and (profile `risk-factors`, default, MHRA 2022) at least one risk factor or sign:
  neuropathy (incl. diabetic neuropathy), anaemia (Hb below 120 g/L, 130 g/L in men),
  macrocytosis (MCV > 100 fL), a current proton pump inhibitor, age >= 65, or malabsorption.
  Profile `all-long-term` (ADA) drops the risk-factor condition.
Then (info): consider a B12 test; suggest a serum B12 order.
Guideline: MHRA Drug Safety Update June 2022 (check if symptomatic; consider periodic
monitoring with risk factors); ADA Standards (periodic measurement); NICE NG239 risk factor.
Why: metformin lowers B12, and the neuropathy it causes is easily blamed on diabetes.
"""

from __future__ import annotations

from cds_service.record.model import Agent, Analyte, PatientRecord, Source
from cds_service.rules.base import (
    GIVEN_ELSEWHERE,
    NOT_APPLICABLE,
    Finding,
    ProposeLabTests,
    RuleInput,
)
from cds_service.rules.facts.causes import irreversible_causes, other_malabsorption
from cds_service.rules.facts.levels import recent
from cds_service.rules.facts.therapy import coverage
from cds_service.rules.facts.wording import condition_line, lab_line, med_line
from cds_service.rules.guidelines import MHRA_METFORMIN

RULE_ID = "metformin-b12-check"
HOOKS = ("patient-view",)
# Lab analytes read (directly or through `facts`): the reader parses no others for a hook.
READS = frozenset({Analyte.B12, Analyte.HOLOTC, Analyte.MMA, Analyte.HB, Analyte.MCV})
# Of those, read as a whole series (`record.results`); the others as their newest result.
SERIES = frozenset({Analyte.B12})
GUIDELINE = MHRA_METFORMIN


def _risk_factors(inp: RuleInput) -> list[str]:
    record, policy, today = inp.record, inp.policy, inp.today
    found = [
        f"Neuropathy: {condition_line(d)}"
        for d in record.conditions_in("VS_NEURO", current_only=True)[:1]
    ]
    found += [
        f"Neuropathy: {condition_line(d)}"
        for d in record.conditions_in("VS_DIABETIC_NEUROPATHY", current_only=True)[:1]
    ]
    hb = recent(record.latest(Analyte.HB), today, 365)
    limit = policy.threshold(
        "hb_anaemia_g_l_male" if record.gender == "male" else "hb_anaemia_g_l_female"
    )
    if hb is not None and hb.definitely_below(limit):
        found.append(lab_line(hb, "Anaemia: haemoglobin"))
    mcv = recent(record.latest(Analyte.MCV), today, 365)
    if (
        mcv is not None
        and mcv.comparator is None
        and mcv.value > policy.threshold("mcv_macrocytosis_fl")
    ):
        found.append(lab_line(mcv, "Macrocytosis: MCV"))
    ppi = [m for m in record.meds(Agent.PPI) if m.is_current(today)]
    if ppi:
        found.append(f"Also on a proton pump inhibitor: {med_line(ppi[0])}")
    if record.birth_date is not None:
        born = record.birth_date.latest
        age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
        if age >= policy.threshold("age_risk_years"):
            found.append(f"Age {age}")
    causes = [*irreversible_causes(record, policy)]
    if causes or other_malabsorption(record):
        found.append("Malabsorption recorded")
    return found


def _first_metformin(record: PatientRecord) -> tuple[str, int] | None:
    starts = [
        m.start
        for m in record.meds(Agent.METFORMIN, Source.REQUEST, Source.STATEMENT)
        if m.start is not None
    ]
    if not starts:
        return None
    first = min(starts, key=lambda d: d.earliest)
    return first.text, first.latest.toordinal()  # a partial date never lengthens the exposure


def evaluate(inp: RuleInput) -> Finding | None:
    record, policy, today = inp.record, inp.policy, inp.today
    current = [m for m in record.meds(Agent.METFORMIN) if m.is_current(today)]
    first = _first_metformin(record)
    if not current or first is None:
        return None
    first_text, first_day = first
    duration = today.toordinal() - first_day
    if duration < policy.days("metformin_long_term"):
        return None
    lookback = policy.days("b12_test_lookback")
    for analyte in (Analyte.B12, Analyte.HOLOTC, Analyte.MMA):
        if recent(record.latest(analyte), today, lookback) is not None:
            return None
    b12 = coverage(record, policy, today)
    if b12.current or b12.unknown:  # on B12 (or an order in place): levels tell little
        return None
    risks = _risk_factors(inp)
    if policy.metformin_profile == "risk-factors" and not risks:
        return None
    last = record.latest(Analyte.B12)
    last_text = f"last B12 {last.when.text}" if last else "no B12 result on record"
    return Finding(
        rule_id=RULE_ID,
        indicator="info",
        summary=f"Metformin for {duration // 30} months and {last_text}: consider a B12 test",
        guideline=GUIDELINE,
        evidence=(
            f"Metformin since {first_text}: {med_line(current[0])}",
            f"No B12 result in the last {lookback // 30} months"
            + (f" (last: {lab_line(last, 'B12')})" if last else ""),
            *risks,
        ),
        advice="Metformin can lower B12. Check B12 when there are symptoms or risk factors; "
        "continue metformin while any deficiency is corrected.",
        caveats=tuple(g.message for g in record.gaps_about("b12", "metformin", "bundle")),
        suggestions=(
            ProposeLabTests(label="Order serum B12", analytes=(Analyte.B12,), recommended=True),
        ),
        override_reasons=(GIVEN_ELSEWHERE, NOT_APPLICABLE),
    )
