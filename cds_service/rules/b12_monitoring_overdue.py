"""b12-monitoring-overdue — on maintenance and B12 or homocysteine not measured on time.

When (profile `seed`, the original protocol; the default):
- the patient is on a maintenance regimen (ordered, stated, or injections spaced as maintenance);
- and total B12 (or active B12) or homocysteine was last measured longer ago than the
  monitoring interval plus grace — counted from maintenance start if nothing was measured since.
  Interval: 3 months while not stable, 12 months once stable.
  Stable: the two latest B12 results on maintenance, at least 2 months apart, are adequate
  (>= 258 pmol/L = 350 ng/L), the latest homocysteine is below target, and no symptom
  recurrence (PHQ-9 rise) is recorded.
When (profile `uk-guideline`, NICE NG239 D5): no B12 re-test prompt; instead a clinical
review (PHQ-9 or symptom review) is due 3 months after starting, then yearly.
Then (info): order the overdue tests. The card never implies that a high B12 on IM therapy
proves the interval is right (serum B12 is high on injections).
Guideline: the local protocol (cited as such: no national guideline sets this schedule); under
`uk-guideline`, NICE NG239 (review at 3 months; no routine re-testing on IM therapy).
Why: homocysteine tracks tissue B12 status better than serum B12 once injections start.
"""

from __future__ import annotations

from datetime import date

from cds_service.policy import Policy
from cds_service.record.model import Analyte, FuzzyDate, LabResult, PatientRecord
from cds_service.rules.base import (
    GIVEN_ELSEWHERE,
    NOT_APPLICABLE,
    Finding,
    ProposeLabTests,
    RuleInput,
)
from cds_service.rules.facts.care import on_b12_maintenance
from cds_service.rules.facts.levels import b12_adequate
from cds_service.rules.facts.therapy import maintenance_start
from cds_service.rules.guidelines import LOCAL_PROTOCOL, NICE_NG239, local_protocol
from cds_service.rules.symptoms_recurring import worsening_pairs

RULE_ID = "b12-monitoring-overdue"
HOOKS = ("patient-view",)
# Lab analytes read (directly or through `facts`): the reader parses no others for a hook.
READS = frozenset(
    {
        Analyte.B12,
        Analyte.HOLOTC,
        Analyte.MMA,
        Analyte.HOMOCYSTEINE,
        Analyte.PHQ9,
        Analyte.PHQ9_ITEM9,
    }
)
# Of those, read as a whole series (`record.results`); the others as their newest result.
SERIES = frozenset({Analyte.B12, Analyte.HOMOCYSTEINE, Analyte.PHQ9})
GUIDELINE = LOCAL_PROTOCOL
GUIDELINE_WORDS = "B12 and homocysteine every 3 months until stable, then yearly"
NAMES = {Analyte.B12: "B12", Analyte.HOMOCYSTEINE: "homocysteine"}


def _on_maintenance(
    results: tuple[LabResult, ...], start: FuzzyDate | None
) -> tuple[LabResult, ...]:
    if start is None:
        return results
    return tuple(r for r in results if r.when.latest >= start.earliest)


def is_stable(record: PatientRecord, policy: Policy, start: FuzzyDate | None) -> bool:
    b12 = _on_maintenance(record.results(Analyte.B12), start)
    if len(b12) < 2:
        return False
    latest, previous = b12[0], b12[1]
    apart = (latest.when.earliest - previous.when.latest).days
    if apart < policy.days("stable_results_min_gap"):
        return False
    if not (b12_adequate(latest, policy) and b12_adequate(previous, policy)):
        return False
    hcy = record.latest(Analyte.HOMOCYSTEINE)
    if hcy is None or not hcy.definitely_below(policy.threshold("homocysteine_target_umol_l")):
        return False
    # a recurrence is a worsening on maintenance, not the pre-treatment decline
    return not any(_on_maintenance((newer,), start) for newer, _ in worsening_pairs(record, policy))


def _latest_b12_status(record: PatientRecord) -> LabResult | None:
    candidates = [r for r in (record.latest(Analyte.B12), record.latest(Analyte.HOLOTC)) if r]
    return max(candidates, key=lambda r: r.when.latest) if candidates else None


def _overdue_line(
    name: str, last: LabResult | None, start: FuzzyDate | None, today: date, limit: int
) -> str | None:
    if start is not None and start.days_before(today) <= limit:
        return None  # maintenance began recently: the first check is not due yet
    if last is not None:
        days = last.when.days_before(today)
        if days > limit:
            return f"Last {name}: {last.normalised()} on {last.when.text} ({days} days ago)"
        return None
    if start is not None and start.days_before(today) <= limit:
        return None
    since = f" since maintenance started ({start.text})" if start else ""
    return f"No {name} result recorded{since}"


def evaluate(inp: RuleInput) -> Finding | None:
    record, today, policy = inp.record, inp.today, inp.policy
    if not on_b12_maintenance(record, policy, today):
        return None
    start = maintenance_start(record, policy, today)
    if policy.monitoring_profile == "uk-guideline":
        return _review_due(inp, start)

    stable = is_stable(record, policy, start)
    interval = policy.days("monitoring_stable" if stable else "monitoring_unstable")
    limit = interval + policy.days("grace")
    overdue: list[tuple[Analyte, str]] = []
    for analyte, last in (
        (Analyte.B12, _latest_b12_status(record)),
        (Analyte.HOMOCYSTEINE, record.latest(Analyte.HOMOCYSTEINE)),
    ):
        line = _overdue_line(NAMES[analyte], last, start, today, limit)
        if line:
            overdue.append((analyte, line))
    if not overdue:
        return None
    names = " and ".join(NAMES[a] for a, _ in overdue)
    phase = "yearly once stable" if stable else "every 3 months until stable"
    return Finding(
        rule_id=RULE_ID,
        indicator="info",
        summary=f"{names.capitalize()} monitoring overdue on B12 maintenance (due {phase})",
        guideline=local_protocol(policy, GUIDELINE_WORDS),
        evidence=(
            *tuple(line for _, line in overdue),
            f"Maintenance since {start.text}" if start else "Maintenance start date not recorded",
            "Stable: two adequate B12 results 2+ months apart and homocysteine below target"
            if stable
            else "Not yet stable by the protocol's definition",
        ),
        advice=(
            "Check serum B12 and homocysteine. Judge the injection interval by symptoms as well: "
            "a high B12 on injections does not show the interval is adequate."
        ),
        caveats=tuple(g.message for g in record.gaps_about("b12", "homocysteine", "bundle")),
        suggestions=(
            ProposeLabTests(
                label=f"Order {names}", analytes=tuple(a for a, _ in overdue), recommended=True
            ),
        ),
        override_reasons=(GIVEN_ELSEWHERE, NOT_APPLICABLE),
    )


def _review_due(inp: RuleInput, start: FuzzyDate | None) -> Finding | None:
    record, today, policy = inp.record, inp.today, inp.policy
    settled = start is not None and start.days_before(today) > policy.days("review_stable")
    interval = policy.days("review_stable" if settled else "review_after_change")
    limit = interval + policy.days("grace")
    line = _overdue_line("symptom review (PHQ-9)", record.latest(Analyte.PHQ9), start, today, limit)
    if line is None:
        return None
    return Finding(
        rule_id=RULE_ID,
        indicator="info",
        summary="Clinical review of B12 treatment due: no symptom review recorded on time",
        guideline=NICE_NG239,
        evidence=(
            line,
            f"Maintenance since {start.text}" if start else "Maintenance start unknown",
        ),
        advice=(
            "Review symptoms (about 3 months after starting or changing treatment, then yearly) "
            "and adjust dose, frequency or route. Routine B12 re-testing on injections is not advised."
        ),
        caveats=tuple(g.message for g in record.gaps_about("phq9", "bundle")),
        override_reasons=(GIVEN_ELSEWHERE, NOT_APPLICABLE),
    )
