"""folic-acid-without-b12 — folic acid ordered without B12 cover or known adequate B12.

When (order-select: the selected orders; order-sign: all draft orders):
- a folic acid order is in focus;
- and there is no B12 cover: no current B12 therapy in the record (active order/statement,
  or a dose in the last 4 months) and no B12 order among the same draft orders;
- and B12 is not known adequate:
  (a) deficiency documented — a coded B12 deficiency, latest total B12 < 133 pmol/L
      (180 ng/L) or active B12 < 25 pmol/L  -> critical;
  (b) otherwise, no B12 result in 12 months, an indeterminate latest result (133-258 pmol/L;
      active B12 25-70), macrocytosis (MCV > 100 fL), neurological involvement or
      malabsorption -> warning.
- Adequate recent B12 (>= 258 pmol/L, or active B12 > 70, within 12 months) and none of the
  risk conditions: no card. Missing data never makes the card critical.
Then: add hydroxocobalamin 1 mg IM, or check B12 (and folate) first; removing the folic acid
order is offered too.
Guideline: BNF folic acid caution; SmPC ("never alone or with inadequate hydroxocobalamin");
local protocol ("never give folic acid alone").
Why: folic acid alone can mask B12 deficiency and precipitate subacute combined degeneration.
"""

from __future__ import annotations

from cds_service.record.model import Agent, Analyte
from cds_service.rules import facts
from cds_service.rules.base import (
    GIVEN_ELSEWHERE,
    Finding,
    Indicator,
    OverrideReason,
    ProposeB12Injection,
    ProposeLabTests,
    RemoveDraft,
    RuleInput,
)
from cds_service.rules.guidelines import BNF_FOLIC_ACID

RULE_ID = "folic-acid-without-b12"
HOOKS = ("order-select", "order-sign")
# Lab analytes read (directly or through `facts`): the reader parses no others for a hook.
READS = frozenset({Analyte.B12, Analyte.HOLOTC, Analyte.FOLATE, Analyte.MCV})
GUIDELINE = BNF_FOLIC_ACID
B12_ADEQUATE_ELSEWHERE = OverrideReason(
    "b12-adequate-elsewhere", "B12 adequate (recent result not in this record)"
)
PROPHYLAXIS_CHECKED = OverrideReason(
    "prophylaxis-b12-checked", "Folic acid prophylaxis (e.g. pregnancy, methotrexate); B12 checked"
)


def _b12_status(inp: RuleInput) -> tuple[str, list[str]]:
    """'deficient' | 'uncertain' | 'adequate', with the evidence lines."""
    record, policy, today = inp.record, inp.policy, inp.today
    deficiency = list(facts.deficiency_evidence(record, policy))
    if deficiency:
        return "deficient", deficiency
    lookback = policy.days("b12_test_lookback")
    b12 = facts.recent(record.latest(Analyte.B12), today, lookback)
    holo = facts.recent(record.latest(Analyte.HOLOTC), today, lookback)
    lines: list[str] = []
    adequate = (b12 is not None and facts.b12_adequate(b12, policy)) or (
        holo is not None
        and holo.comparator is None
        and holo.value > policy.threshold("holotc_adequate_pmol_l")
    )
    for result, label in ((b12, "B12"), (holo, "Active B12 (holoTC)")):
        if result is not None:
            lines.append(facts.lab_line(result, label))
    if b12 is None and holo is None:
        older = record.latest(Analyte.B12)
        lines.append(
            f"No B12 result in the last {lookback // 30} months"
            + (f" (last: {facts.lab_line(older, 'B12')})" if older else "")
        )
    risks = []
    mcv = record.latest(Analyte.MCV)
    if (
        mcv is not None
        and mcv.comparator is None
        and mcv.value > policy.threshold("mcv_macrocytosis_fl")
    ):
        risks.append(facts.lab_line(mcv, "Macrocytosis: MCV"))
    risks += [
        f"Neurological: {facts.condition_line(d)}" for d in facts.neuro_involvement(record)[:1]
    ]
    risks += facts.cause_lines(facts.irreversible_causes(record, policy), "Malabsorption", 1)
    risks += [
        f"Malabsorption: {facts.condition_line(d)}" for d in facts.other_malabsorption(record)[:1]
    ]
    if adequate and not risks:
        return "adequate", lines
    return "uncertain", lines + risks


def evaluate(inp: RuleInput) -> Finding | None:
    if inp.orders is None:
        return None
    folic = [d for d in inp.orders.with_agent(Agent.FOLIC_ACID, focus_only=True) if not d.is_stop]
    if not folic:
        return None
    b12_drafts = [d for d in inp.orders.with_agent(Agent.B12) if not d.is_stop]
    stopping = {d.ref for d in inp.orders.drafts if d.is_stop}  # a stop is no cover
    therapy = facts.current_b12_therapy(inp.record, inp.policy, inp.today)
    if b12_drafts or any(m.ref not in stopping for m in therapy):
        return None
    status, evidence = _b12_status(inp)
    if status == "adequate":
        return None
    indicator: Indicator = "critical" if status == "deficient" else "warning"
    order = folic[0]
    name = order.medication.name if order.medication else "folic acid"
    evidence.insert(0, f"Folic acid ordered: {name}")
    evidence.append("No current B12 therapy and no B12 among the draft orders")
    if indicator == "critical":
        summary = "Folic acid without B12 cover in known B12 deficiency: risk of nerve damage"
    else:
        summary = "Folic acid ordered without B12 cover and B12 status not known adequate"
    return Finding(
        rule_id=RULE_ID,
        indicator=indicator,
        summary=summary,
        guideline=GUIDELINE,
        evidence=tuple(evidence),
        advice=(
            "Folic acid alone can mask B12 deficiency and precipitate subacute combined "
            "degeneration of the cord. Give B12 with it, or confirm B12 is adequate first."
        ),
        caveats=tuple(
            g.message for g in inp.record.gaps_about("b12", "holotc", "folic-acid", "bundle")
        ),
        suggestions=(
            ProposeB12Injection(
                label="Add hydroxocobalamin 1 mg IM", recommended=indicator == "critical"
            ),
            ProposeLabTests(
                label="Order serum B12 and folate",
                analytes=(Analyte.B12, Analyte.FOLATE),
                recommended=indicator != "critical",
            ),
            RemoveDraft(label="Remove the folic acid order", order_ref=order.ref),
        ),
        selection="any",
        override_reasons=(GIVEN_ELSEWHERE, B12_ADEQUATE_ELSEWHERE, PROPHYLAXIS_CHECKED),
    )
