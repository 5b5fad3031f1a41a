"""No alarm from the absence of records that were cut: the one table of what each rule's
conclusion rests on, and what a cut search does to its finding.

A rule speaks from what the record holds. When a search behind the record was cut (a client
sent only the first page, the page cap was reached, ...), a conclusion drawn from the
*absence* of records ("no dose since ...", "no test in 12 months", "no therapy") may be
false: the missing records may be exactly the ones that would have silenced it. Presence is
never in doubt (a dose that is held was given), so only the absence a rule relies on counts,
declared here per rule id and prefetch key, so that no rule module needs to know about it:

- `RECENT`: only the newest records of that search matter ("the last dose", "the latest
  result"). A search sorted newest first and cut lacks only older records, which cannot
  change the conclusion; a cut with no date sort (or oldest first) can.
- `ANY`: any record of that search could change it (an ongoing order started years ago, an
  ended regimen): every cut counts.

A finding that rests on a cut search never stays warning or critical. By the policy switch
`incomplete_data.absence_conclusions` it becomes an info card that says it is unconfirmed and
names the cut search (`downgrade`, the default), or it is not shown (`silent`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from enum import StrEnum

from cds_service.policy import Policy
from cds_service.record.completeness import Completeness, Coverage, Missing, SearchStatus
from cds_service.rules.base import Finding

SUMMARY_MAX = 139


class Basis(StrEnum):
    RECENT = "recent"  # the newest records decide: a cut of older ones is harmless
    ANY = "any"  # any record could decide: every cut counts


RECENT, ANY = Basis.RECENT, Basis.ANY

# rule id -> prefetch key -> what its conclusion needs that search to be complete for.
# Keys a rule reads only for positive evidence (a cause, a symptom, an order in the
# draft) are not listed: what is held of them is true whatever was cut.
RESTS_ON_ABSENCE: Mapping[str, Mapping[str, Basis]] = {
    # "no dose since ...": the last dose (an administration, a statement or a procedure); an
    # ended regimen (any age) silences the rule
    "maintenance-injection-overdue": {
        "medadmins": RECENT,
        "procedures": RECENT,
        "medrequests": ANY,
        "medstatements": ANY,
    },
    # "no maintenance regimen in place": an ongoing order may be old; spaced doses recent
    "maintenance-not-started": {
        "medrequests": ANY,
        "medstatements": ANY,
        "medadmins": RECENT,
        "procedures": RECENT,
    },
    # "no current B12 therapy": an ongoing order (any age) or a dose within its interval; the
    # latest B12 result makes it critical
    "b12-therapy-stopped": {
        "medrequests": ANY,
        "medstatements": ANY,
        "medadmins": RECENT,
        "procedures": RECENT,
        "labs": RECENT,
    },
    # "no alternate-day course": recent doses or an ongoing alternate-day order
    "neurological-review": {
        "medadmins": RECENT,
        "medstatements": RECENT,
        "procedures": RECENT,
        "medrequests": ANY,
        "labs": RECENT,
    },
    # "not measured on time": the latest B12 / homocysteine; maintenance from orders and doses
    "b12-monitoring-overdue": {
        "labs": RECENT,
        "medrequests": ANY,
        "medstatements": ANY,
        "medadmins": RECENT,
    },
    # "no B12 result in 12 months" and "not on B12 therapy"
    "metformin-b12-check": {
        "labs": RECENT,
        "medrequests": ANY,
        "medstatements": ANY,
        "medadmins": RECENT,
        "procedures": RECENT,
    },
    # "the latest homocysteine is above target": a newer result may be below it
    "homocysteine-above-target": {"labs": RECENT},
    # the two latest PHQ-9 scores, measured against the last dose (a self-harm answer is a
    # safety card: never downgraded, see `confirm`)
    "symptoms-recurring": {"labs": RECENT, "medadmins": RECENT, "medstatements": RECENT},
    # "no B12 cover" in the record, and "B12 not known adequate" from the latest results
    "folic-acid-without-b12": {
        "medrequests": ANY,
        "medstatements": ANY,
        "medadmins": RECENT,
        "procedures": RECENT,
        "labs": RECENT,
    },
    # critical: "no injection covering today and no IM regimen"
    "oral-b12-in-malabsorption": {
        "medadmins": RECENT,
        "procedures": RECENT,
        "medrequests": ANY,
        "medstatements": ANY,
    },
    # judged on the draft order itself
    "maintenance-interval-too-long": {},
}

DOWNGRADE, SILENT = "downgrade", "silent"


def undermining(rule_id: str, completeness: Completeness) -> tuple[SearchStatus, ...]:
    """The cut searches whose missing part could hold what `rule_id` concluded was absent.

    A rule not in the table is assumed to rest on every search (the safe default).
    """
    needs = RESTS_ON_ABSENCE.get(rule_id)
    found = []
    for status in completeness.incomplete():
        basis = needs.get(status.key) if needs is not None else ANY
        if basis is None:
            continue
        if basis is RECENT and status.coverage is Coverage.TRUNCATED:
            if status.missing is Missing.OLDER:
                continue  # the newest records are all held
        found.append(status)
    return tuple(found)


def confirm(finding: Finding, completeness: Completeness, policy: Policy) -> Finding | None:
    """`finding` as it may be shown given what was cut: unchanged, unconfirmed info, or None."""
    cut = undermining(finding.rule_id, completeness)
    if not cut:
        return finding
    if finding.safety:  # a self-harm answer is present, whatever else was cut: never hidden
        named = ", ".join(s.named for s in cut)
        note = f"{named} could not be read in full; a newer answer may be missing."
        return dataclasses.replace(finding, caveats=(note, *finding.caveats))
    if policy.absence_conclusions == SILENT:
        return None
    words = " and ".join(s.words or s.key for s in cut)
    named = ", ".join(s.named for s in cut)
    # the summary keeps room for the finding's own key fact; the caveat names every search
    what = cut[0].words or cut[0].key if len(cut) == 1 else "records"
    summary = _fit(f"Unconfirmed, {what} incomplete: {finding.summary}")
    was = "" if finding.indicator == "info" else f" (it would be {finding.indicator})"
    caveat = (
        f"Unconfirmed{was}: this conclusion rests on records being absent from {named}, "
        "which could not be read in full; the missing records may contradict it."
    )
    return dataclasses.replace(
        finding,
        indicator="info",
        summary=summary,
        advice=(
            f"Check the complete record before acting: {words} could not be read in full. "
            + finding.advice
        ).strip(),
        caveats=(caveat, *finding.caveats),
        suggestions=tuple(dataclasses.replace(s, recommended=False) for s in finding.suggestions),
    )


def _fit(summary: str) -> str:
    summary = " ".join(summary.split())
    return summary if len(summary) <= SUMMARY_MAX else summary[: SUMMARY_MAX - 1].rstrip() + "…"
