"""What shows B12 deficiency, and what shows B12 is adequate: not the total B12 alone.

Evidence of deficiency (NICE NG239; BSH 2014: do not rely on one test):
- a low total B12 (< 133 pmol/L, 180 ng/L, judged in the unit the lab used) or a low active
  B12 (holoTC < 25 pmol/L), when it is the latest result;
- raised methylmalonic acid (MMA), a functional marker; raised homocysteine too, but it is
  also raised by folate deficiency and renal impairment, so alone it makes B12 status
  uncertain rather than known deficient (`specific=False`);
- a coded B12 neurological complication (subacute combined degeneration) or recorded
  nitrous oxide use (total B12 can be normal after it);
- a coded B12 deficiency that is still current: pernicious anaemia and the other permanent
  causes always; any other code only while active and not followed by an adequate level.
  A deficiency resolved years ago and followed by an adequate B12 is history, not evidence.
  E53.8 (other B vitamins too) never counts alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from cds_service.policy import Policy
from cds_service.record.model import Analyte, Diagnosis, LabResult, PatientRecord
from cds_service.rules.facts.levels import b12_adequate, b12_deficient, holotc_adequate
from cds_service.rules.facts.memo import per_record
from cds_service.rules.facts.wording import condition_line, lab_line

PERMANENT = "VS_MALABSORPTION_IRREVERSIBLE"  # PA, D51.0-D51.2: deficiency is for life


@dataclass(frozen=True, slots=True)
class Evidence:
    line: str
    specific: bool = True  # False: raised homocysteine alone


def _adequate_after(record: PatientRecord, policy: Policy, since: date) -> LabResult | None:
    """An adequate total or active B12 taken after `since` (what shows a deficiency resolved)."""
    for result in record.results(Analyte.B12):
        if result.when.earliest > since and b12_adequate(result, policy):
            return result
    holo = record.latest(Analyte.HOLOTC)
    if holo is not None and holo.when.earliest > since and holotc_adequate(holo, policy):
        return holo
    return None


def _coded_is_current(item: Diagnosis, record: PatientRecord, policy: Policy) -> bool:
    if PERMANENT in item.concepts:
        return True
    if not item.is_current:
        return False
    since = item.first_known.latest if item.first_known is not None else None
    return since is None or _adequate_after(record, policy, since) is None


@per_record
def deficiency_evidence(record: PatientRecord, policy: Policy) -> tuple[Evidence, ...]:
    """Everything in the record that shows B12 deficiency now (see the module docstring)."""
    found: list[Evidence] = []
    coded = [
        d for d in record.conditions_in("VS_B12_DEFICIENCY") if _coded_is_current(d, record, policy)
    ]
    found += [Evidence(condition_line(d)) for d in coded[:2]]
    b12 = record.latest(Analyte.B12)
    if b12 is not None and b12_deficient(b12, policy):
        found.append(Evidence(lab_line(b12, "B12")))
    holo = record.latest(Analyte.HOLOTC)
    if holo is not None and holo.definitely_below(policy.threshold("holotc_deficient_pmol_l")):
        found.append(Evidence(lab_line(holo, "Active B12 (holoTC)")))
    mma = record.latest(Analyte.MMA)
    if mma is not None and mma.definitely_at_or_above(policy.threshold("mma_raised_umol_l")):
        found.append(Evidence(lab_line(mma, "Raised MMA (functional B12 deficiency)")))
    found += [
        Evidence(f"B12 neurological complication: {condition_line(d)}")
        for d in record.conditions_in("VS_B12_NEURO_COMPLICATION")[:1]
    ]
    found += [
        Evidence(f"Nitrous oxide (total B12 can be normal after it): {condition_line(d)}")
        for d in record.conditions_in("N2O_EXPOSURE")[:1]
    ]
    hcy = record.latest(Analyte.HOMOCYSTEINE)
    if hcy is not None and hcy.definitely_at_or_above(
        policy.threshold("homocysteine_raised_umol_l")
    ):
        found.append(
            Evidence(
                lab_line(hcy, "Raised homocysteine (B12 or folate deficiency, renal impairment)"),
                specific=False,
            )
        )
    if found:
        found += [
            Evidence(f"Also coded: {condition_line(d)}")
            for d in record.conditions_in("VS_B12_DEFICIENCY_UNSPECIFIC")[:1]
        ]
    return tuple(found)


@per_record
def known_deficiency(record: PatientRecord, policy: Policy) -> tuple[str, ...]:
    """The evidence lines that make deficiency known (every kind but homocysteine alone)."""
    evidence = deficiency_evidence(record, policy)
    if not any(e.specific for e in evidence):
        return ()
    return tuple(e.line for e in evidence)


@per_record
def deficiency_history(
    record: PatientRecord, policy: Policy, *, unless_adequate_since: bool = False
) -> tuple[str, ...]:
    """Coded deficiencies that are history now (resolved, or followed by an adequate B12).

    `unless_adequate_since`: leave out one followed by an adequate B12 or active B12 (history
    that the present has answered: no risk left to weigh)."""
    found = []
    for d in record.conditions_in("VS_B12_DEFICIENCY"):
        if _coded_is_current(d, record, policy):
            continue
        since = d.first_known.latest if d.first_known is not None else None
        if unless_adequate_since and since is not None and _adequate_after(record, policy, since):
            continue
        found.append(f"History: {condition_line(d)}")
    return tuple(found[:1])
