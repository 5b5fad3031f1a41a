"""One clinical fact, one card: the precedence between rules, defined once.

Rules speak independently; some speak about the same fact. A missed maintenance dose is at
once "injection overdue", "no current B12 therapy" (in an irreversible cause) and, before any
regimen began, "maintenance not started": one fact, the patient is not receiving B12. After
the rules run, findings that share a fact in `SHARED_FACTS` become one card: the most urgent
(then the first rule listed for the fact) carries the others' summaries, suggestions, override
reasons and caveats. Cards that each propose lab tests get one lab order between
them, on the most urgent card, covering every test any of them asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from cds_service.rules.base import SEVERITY, Finding, ProposeLabTests, SuggestionIntent

REPLACEMENT_GAP = "b12-replacement-gap"
# fact -> the rules that speak about it, in the order that wins a tie in urgency: the one
# whose card says what to do about the situation the patient is in.
SHARED_FACTS: dict[str, tuple[str, ...]] = {
    REPLACEMENT_GAP: (
        "maintenance-injection-overdue",  # a regimen is in place: give the dose that is due
        "b12-therapy-stopped",  # lifelong need, no therapy
        "maintenance-not-started",  # loading done, nothing since
    ),
}
_EVIDENCE_MAX = 12


def _rank(finding: Finding, fact: str) -> tuple[int, int]:
    order = SHARED_FACTS[fact]
    position = order.index(finding.rule_id) if finding.rule_id in order else len(order)
    return (-SEVERITY[finding.indicator], position)


def _same(a: SuggestionIntent, b: SuggestionIntent) -> bool:
    return type(a) is type(b) and {**vars_of(a), "label": "", "recommended": False} == {
        **vars_of(b),
        "label": "",
        "recommended": False,
    }


def vars_of(intent: SuggestionIntent) -> dict[str, object]:
    return {name: getattr(intent, name) for name in intent.__slots__}


def _carry(winner: Finding, others: Sequence[Finding]) -> Finding:
    evidence = list(winner.evidence)
    suggestions = list(winner.suggestions)
    reasons = list(winner.override_reasons)
    caveats = list(winner.caveats)
    for other in others:
        # the other card's key fact, once: its evidence repeats what this card already shows
        evidence.append(f"Also: {other.summary}")
        suggestions += [
            replace(s, recommended=False)
            for s in other.suggestions
            if not any(_same(s, mine) for mine in suggestions)
        ]
        reasons += [r for r in other.override_reasons if r not in reasons]
        caveats += [c for c in other.caveats if c not in caveats]
    return replace(
        winner,
        evidence=tuple(evidence[:_EVIDENCE_MAX]),
        suggestions=tuple(suggestions),
        override_reasons=tuple(reasons),
        caveats=tuple(caveats),
        about=winner.about.union(*(o.about for o in others)),
        merged=(*winner.merged, *(o.rule_id for o in others)),
    )


def one_card_per_fact(findings: Sequence[Finding]) -> list[Finding]:
    """Findings with at most one card per shared fact, in the order given."""
    out = list(findings)
    for fact in SHARED_FACTS:
        group = [f for f in out if fact in f.about]
        if len(group) < 2:
            continue
        winner = min(group, key=lambda f: _rank(f, fact))
        others = [f for f in group if f is not winner]
        merged = _carry(winner, others)
        out = [merged if f is winner else f for f in out if f not in others]
    return out


def one_lab_order(findings: Sequence[Finding]) -> list[Finding]:
    """One lab order between the cards: on the first (most urgent) card that proposes tests,
    for every test any card asked for; the others point to it."""
    with_labs = [f for f in findings if any(isinstance(s, ProposeLabTests) for s in f.suggestions)]
    if len(with_labs) < 2:
        return list(findings)
    first = with_labs[0]
    analytes = []
    for finding in with_labs:
        for intent in finding.suggestions:
            if isinstance(intent, ProposeLabTests):
                analytes += [a for a in intent.analytes if a not in analytes]
    combined = ProposeLabTests(
        label="Order " + _and([LAB_WORDS.get(a.value, a.value) for a in analytes]),
        analytes=tuple(analytes),
        recommended=True,
    )
    out: list[Finding] = []
    for finding in findings:
        if finding is first:
            kept = [s for s in finding.suggestions if not isinstance(s, ProposeLabTests)]
            out.append(replace(finding, suggestions=(combined, *kept)))
        elif finding in with_labs:
            kept = [s for s in finding.suggestions if not isinstance(s, ProposeLabTests)]
            note = f" One lab order on the card “{first.summary}” covers these tests."
            out.append(replace(finding, suggestions=tuple(kept), advice=finding.advice + note))
        else:
            out.append(finding)
    return out


LAB_WORDS = {
    "b12": "B12",
    "holotc": "active B12",
    "mma": "MMA",
    "homocysteine": "homocysteine",
    "folate": "serum folate",
}


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
