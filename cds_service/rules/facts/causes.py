"""Why a patient needs B12 for life, and what else raises the stakes.

Irreversible causes of malabsorption count whatever their clinical status (surgical
history is often recorded as resolved). Crohn's disease, coeliac disease and a small-bowel
excision that spared the terminal ileum are risks to check, not lifelong-therapy facts.
Memory impairment and cognitive disorder are neurological involvement only when the record
links them to the deficiency; an elderly patient with dementia is not held to 2-monthly
injections.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from cds_service.policy import Policy
from cds_service.record.model import Analyte, Diagnosis, PatientRecord, ProcedureRecord
from cds_service.rules.facts.memo import per_record
from cds_service.rules.facts.wording import condition_line

CAUSE_WORDS = {
    "autoimmune": "pernicious anaemia (autoimmune gastritis)",
    "gastric-surgery": "gastric surgery",
    "bariatric": "bariatric/gastric bypass surgery",
    "ileal": "ileal resection or short bowel",
    "inherited": "an inherited B12 malabsorption disorder",
    "postsurgical": "postsurgical malabsorption",
}
LIFELONG_CRITICAL_CAUSES = frozenset({"autoimmune", "gastric-surgery", "ileal"})


@dataclass(frozen=True, slots=True)
class Cause:
    cause: str  # key of CAUSE_WORDS
    evidence: Diagnosis | ProcedureRecord

    @property
    def words(self) -> str:
        return CAUSE_WORDS[self.cause]


@per_record
def irreversible_causes(record: PatientRecord, policy: Policy) -> tuple[Cause, ...]:
    """Irreversible malabsorption causes, whatever their clinical status (history counts)."""
    items: list[Diagnosis | ProcedureRecord] = [
        *record.conditions_in("VS_MALABSORPTION_IRREVERSIBLE"),
        *record.procedures_in("VS_MALABSORPTION_IRREVERSIBLE"),
    ]
    return tuple(Cause(policy.causes.get(item.code, "postsurgical"), item) for item in items)


def cause_lines(causes: tuple[Cause, ...], label: str = "Cause", limit: int = 2) -> list[str]:
    """One evidence line per distinct cause, naming what the record says and its code once."""
    seen: set[str] = set()
    lines: list[str] = []
    for c in causes:
        if c.cause not in seen and len(lines) < limit:
            seen.add(c.cause)
            lines.append(f"{label}: {condition_line(c.evidence)}")
    return lines


@per_record
def other_malabsorption(record: PatientRecord) -> tuple[Diagnosis | ProcedureRecord, ...]:
    """Malabsorption risks: coeliac, Crohn's, blind loop, small-bowel excision of unknown site."""
    spared: list[Diagnosis | ProcedureRecord] = [
        *record.conditions_in("VS_SMALL_BOWEL_RESECTION"),
        *record.procedures_in("VS_SMALL_BOWEL_RESECTION"),
    ]
    return (
        *record.conditions_in("VS_MALABSORPTION_OTHER"),
        *record.procedures_in("VS_MALABSORPTION_OTHER"),
        *(i for i in spared if "VS_MALABSORPTION_IRREVERSIBLE" not in i.concepts),
    )


def malabsorption(record: PatientRecord, policy: Policy) -> tuple[Diagnosis | ProcedureRecord, ...]:
    """Any recorded malabsorption: what makes oral and nasal B12 no cover."""
    return (
        *(c.evidence for c in irreversible_causes(record, policy)),
        *other_malabsorption(record),
    )


def _deficiency_dates(record: PatientRecord, policy: Policy) -> list[date]:
    days = [
        d.first_known.earliest
        for d in record.conditions_in("VS_B12_DEFICIENCY")
        if d.first_known is not None
    ]
    if record.analytes is None or Analyte.B12 in record.analytes:
        days += [
            r.when.earliest
            for r in record.results(Analyte.B12)
            if r.b12_below(
                policy.threshold("b12_deficient_pmol_l"), policy.threshold("b12_deficient_ng_l")
            )
        ]
    return days


def _linked(item: Diagnosis, record: PatientRecord, policy: Policy) -> bool:
    if "VS_B12_DEFICIENCY" in item.linked:
        return True
    deficiency_refs = {d.ref for d in record.conditions_in("VS_B12_DEFICIENCY")}
    if item.linked_refs & deficiency_refs:
        return True
    if item.first_known is None:
        return False
    window = policy.days("cognitive_with_deficiency")
    onset = item.first_known.earliest
    return any(abs((onset - day).days) <= window for day in _deficiency_dates(record, policy))


@per_record
def neuro_involvement(record: PatientRecord, policy: Policy) -> tuple[Diagnosis, ...]:
    """Neurological involvement: it sets 2-monthly maintenance for life. Cognitive codes count
    only when recorded as caused by or arising with the deficiency."""
    cognitive = tuple(d for d in record.conditions_in("VS_COGNITIVE") if _linked(d, record, policy))
    return (*record.conditions_in("VS_NEURO"), *cognitive)


@per_record
def guideline_interval(record: PatientRecord, policy: Policy) -> int:
    """3-monthly, or 2-monthly with neurological involvement (BNF/SmPC)."""
    return policy.days("maintenance_neuro" if neuro_involvement(record, policy) else "maintenance")
