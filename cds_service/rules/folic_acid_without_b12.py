"""folic-acid-without-b12 — folic acid ordered without adequate B12 cover.

When (order-select: the selected orders; order-sign: all draft orders):
- a folic acid order is in focus: any product containing folic acid, whatever else it holds
  (folinic acid, levofolinic acid and levomefolate are other substances, not folic acid,
  unless the policy's option `folate_analogues_are_folic_acid` says so);
- and there is no adequate B12 cover, worked out from what the patient gets (`facts.therapy`):
  injected B12 covering today (a dose within its interval plus grace, or an injection regimen
  within its window), or oral, sublingual or nasal B12 at 1,000 micrograms a day or more
  (`oral_b12_cover_min_mg_per_day`) in a patient without malabsorption; the same test for B12
  among the draft orders, the folic acid product's own B12 included. A multivitamin's
  micrograms are not cover; in malabsorption oral B12 is not cover; an order being stopped
  covers nothing;
- and B12 is not known adequate:
  (a) deficiency known (`facts.deficiency`: a low total or active B12, raised MMA, pernicious
      anaemia or another current coded deficiency, SCD, nitrous oxide use) -> critical;
  (b) otherwise no B12 result in 12 months, an indeterminate latest result (133-258 pmol/L;
      active B12 25-70), raised homocysteine, macrocytosis (MCV > 100 fL), neurological
      involvement, malabsorption, or a deficiency now in history -> warning.
- Adequate recent B12 (>= 258 pmol/L, or active B12 > 70, within 12 months) and none of those
  risks: no card. Missing data never makes the card critical.
Then: add hydroxocobalamin 1 mg IM, or check B12 (and folate) first; removing the folic acid
order is offered too.
Guideline: BNF folic acid caution; SmPC ("never alone or with inadequate hydroxocobalamin");
local protocol ("never give folic acid alone without ensuring adequate B12").
Why: folic acid alone can mask B12 deficiency and precipitate subacute combined degeneration.
"""

from __future__ import annotations

from cds_service.record.model import COBALAMINS, Agent, Analyte
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
from cds_service.rules.facts.causes import (
    irreversible_causes,
    neuro_involvement,
    other_malabsorption,
)
from cds_service.rules.facts.deficiency import (
    deficiency_evidence,
    deficiency_history,
    known_deficiency,
)
from cds_service.rules.facts.levels import b12_adequate, holotc_adequate, recent
from cds_service.rules.facts.therapy import b12_cover
from cds_service.rules.facts.wording import condition_line, lab_line
from cds_service.rules.guidelines import BNF_FOLIC_ACID

RULE_ID = "folic-acid-without-b12"
HOOKS = ("order-select", "order-sign")
# Lab analytes read (directly or through `facts`): the reader parses no others for a hook.
READS = frozenset(
    {Analyte.B12, Analyte.HOLOTC, Analyte.MMA, Analyte.HOMOCYSTEINE, Analyte.FOLATE, Analyte.MCV}
)
# Of those, read as a whole series (`record.results`); the others as their newest result.
SERIES = frozenset({Analyte.B12})
GUIDELINE = BNF_FOLIC_ACID
B12_ADEQUATE_ELSEWHERE = OverrideReason(
    "b12-adequate-elsewhere", "B12 adequate (recent result not in this record)"
)
PROPHYLAXIS_CHECKED = OverrideReason(
    "prophylaxis-b12-checked", "Folic acid prophylaxis (e.g. pregnancy, methotrexate); B12 checked"
)


def _risks(inp: RuleInput) -> list[str]:
    record, policy = inp.record, inp.policy
    risks = []
    mcv = record.latest(Analyte.MCV)
    if (
        mcv is not None
        and mcv.comparator is None
        and mcv.value > policy.threshold("mcv_macrocytosis_fl")
    ):
        risks.append(lab_line(mcv, "Macrocytosis: MCV"))
    risks += [f"Neurological: {condition_line(d)}" for d in neuro_involvement(record, policy)[:1]]
    causes = irreversible_causes(record, policy)
    risks += [f"Malabsorption: {condition_line(c.evidence)}" for c in causes[:1]]
    risks += [f"Malabsorption: {condition_line(d)}" for d in other_malabsorption(record)[:1]]
    risks += list(deficiency_history(record, policy, unless_adequate_since=True))
    return risks


def _b12_status(inp: RuleInput) -> tuple[str, list[str]]:
    """'deficient' | 'uncertain' | 'adequate', with the evidence lines."""
    record, policy, today = inp.record, inp.policy, inp.today
    known = list(known_deficiency(record, policy))
    if known:
        return "deficient", known
    lookback = policy.days("b12_test_lookback")
    b12 = recent(record.latest(Analyte.B12), today, lookback)
    holo = recent(record.latest(Analyte.HOLOTC), today, lookback)
    adequate = (b12 is not None and b12_adequate(b12, policy)) or (
        holo is not None and holotc_adequate(holo, policy)
    )
    lines = [lab_line(r, label) for r, label in ((b12, "B12"), (holo, "Active B12 (holoTC)")) if r]
    if b12 is None and holo is None:
        older = record.latest(Analyte.B12)
        lines.append(
            f"No B12 result in the last {lookback // 30} months"
            + (f" (last: {lab_line(older, 'B12')})" if older else "")
        )
    risks = _risks(inp) + [e.line for e in deficiency_evidence(record, policy) if not e.specific]
    if adequate and not risks:
        return "adequate", lines
    return "uncertain", lines + risks


def _malabsorbed(inp: RuleInput) -> str | None:
    causes = irreversible_causes(inp.record, inp.policy)
    if causes:
        return causes[0].words
    other = other_malabsorption(inp.record)
    return other[0].display if other else None


def evaluate(inp: RuleInput) -> Finding | None:
    if inp.orders is None:
        return None
    folic = [d for d in inp.orders.with_agent(Agent.FOLIC_ACID, focus_only=True) if not d.is_stop]
    if not folic:
        return None
    stopping = frozenset(d.ref for d in inp.orders.drafts if d.is_stop)  # a stop is no cover
    b12_drafts = tuple(
        d.medication
        for d in inp.orders.with_agent(Agent.B12)
        if not d.is_stop and d.medication is not None
    )
    cover = b12_cover(inp.record, inp.policy, inp.today, b12_drafts, _malabsorbed(inp), stopping)
    if cover.covered:
        return None
    status, evidence = _b12_status(inp)
    if status == "adequate":
        return None
    # with an order in place that no record confirms, cover is unknown, not absent
    indicator: Indicator = "critical" if status == "deficient" and not cover.unknown else "warning"
    order = folic[0]
    product = order.medication.product if order.medication else None
    name = order.medication.name if order.medication else "folic acid"
    ordered = [f"Ordered: {name}" if "folic" in name.lower() else f"Folic acid ordered: {name}"]
    if (
        product is not None
        and product.contains(COBALAMINS)
        and Agent.B12 not in (order.medication.agents if order.medication else frozenset())
    ):
        ordered.append("Its B12 content is a multivitamin's, not a treatment dose")
    if indicator == "critical":
        summary = "Folic acid without adequate B12 in known B12 deficiency: risk of nerve damage"
    else:
        summary = "Folic acid ordered without adequate B12 cover and B12 not known adequate"
    return Finding(
        rule_id=RULE_ID,
        indicator=indicator,
        summary=summary,
        guideline=GUIDELINE,
        evidence=tuple(ordered + evidence + list(cover.lines)),
        advice=(
            "Folic acid alone, or with too little B12, can mask B12 deficiency and precipitate "
            "subacute combined degeneration of the cord. Give B12 with it (hydroxocobalamin "
            "1 mg IM, or oral B12 of at least 1 mg a day where there is no malabsorption), or "
            "confirm B12 is adequate first."
        ),
        caveats=tuple(
            g.message
            for g in (
                *inp.record.gaps_about("b12", "holotc", "folic-acid", "bundle"),
                *inp.orders.gaps_about("b12", "folic-acid"),
            )
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
