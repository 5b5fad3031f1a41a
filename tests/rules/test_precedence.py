"""One clinical fact, one card: the precedence between rules (rules.precedence), and one lab
order between cards that each ask for tests."""

from __future__ import annotations

from cds_service.record.model import Analyte
from cds_service.rules import RULES, run_rules
from cds_service.rules.base import (
    Finding,
    Guideline,
    ProposeB12Injection,
    ProposeLabTests,
    RuleInput,
)
from cds_service.rules.precedence import (
    REPLACEMENT_GAP,
    SHARED_FACTS,
    one_card_per_fact,
    one_lab_order,
)
from tests.rules.builders import (
    PERNICIOUS_ANAEMIA,
    POLICY,
    TODAY,
    b12,
    condition,
    hcy,
    im_order,
    injection,
    injections,
    record,
)

G = Guideline("g", "https://example.org")


def finding(
    rule: str, indicator: str, *, about: frozenset[str] = frozenset({REPLACEMENT_GAP}), **kw: object
) -> Finding:
    return Finding(
        rule_id=rule, indicator=indicator, summary=f"{rule} says", guideline=G, about=about, **kw
    )  # type: ignore[arg-type]


def test_the_more_urgent_card_carries_the_other() -> None:
    overdue = finding("maintenance-injection-overdue", "warning", evidence=("last dose",))
    stopped = finding(
        "b12-therapy-stopped",
        "critical",
        suggestions=(ProposeB12Injection(label="restart", interval_days=91),),
    )
    (card,) = one_card_per_fact([stopped, overdue])
    assert card.rule_id == "b12-therapy-stopped" and card.indicator == "critical"
    assert "Also: maintenance-injection-overdue says" in card.evidence
    assert card.merged == ("maintenance-injection-overdue",)


def test_on_a_tie_the_rule_listed_first_for_the_fact_wins() -> None:
    overdue = finding("maintenance-injection-overdue", "critical")
    stopped = finding("b12-therapy-stopped", "critical")
    (card,) = one_card_per_fact([stopped, overdue])
    assert card.rule_id == SHARED_FACTS[REPLACEMENT_GAP][0]


def test_cards_about_different_facts_are_left_alone() -> None:
    a = finding("maintenance-injection-overdue", "warning")
    b = finding("homocysteine-above-target", "info", about=frozenset())
    assert one_card_per_fact([a, b]) == [a, b]


def test_an_equivalent_suggestion_is_not_offered_twice() -> None:
    dose = ProposeB12Injection(label="one dose now", doses=1)
    a = finding("maintenance-injection-overdue", "warning", suggestions=(dose,))
    b = finding(
        "b12-therapy-stopped", "warning", suggestions=(ProposeB12Injection(label="again", doses=1),)
    )
    (card,) = one_card_per_fact([a, b])
    assert len(card.suggestions) == 1


def test_cards_asking_for_tests_share_one_lab_order_on_the_first() -> None:
    a = finding(
        "b12-monitoring-overdue",
        "info",
        about=frozenset(),
        suggestions=(ProposeLabTests("b12+hcy", (Analyte.B12, Analyte.HOMOCYSTEINE)),),
    )
    b = finding(
        "homocysteine-above-target",
        "info",
        about=frozenset(),
        suggestions=(ProposeLabTests("mma+folate", (Analyte.MMA, Analyte.FOLATE)),),
    )
    first, second = one_lab_order([a, b])
    (order,) = [s for s in first.suggestions if isinstance(s, ProposeLabTests)]
    assert order.analytes == (Analyte.B12, Analyte.HOMOCYSTEINE, Analyte.MMA, Analyte.FOLATE)
    assert not any(isinstance(s, ProposeLabTests) for s in second.suggestions)
    assert "One lab order" in second.advice


def test_every_shared_fact_names_real_rules() -> None:
    ids = {r.RULE_ID for r in RULES}
    for fact, rules in SHARED_FACTS.items():
        assert set(rules) <= ids, fact


def test_a_missed_dose_in_pernicious_anaemia_is_one_card() -> None:
    """The issue's case: overdue (warning) and no current therapy (PA) at the same moment."""
    rec = record(
        condition(PERNICIOUS_ANAEMIA, 2000),
        im_order(every=84, start=500),
        injection(200),
        injection(290),
        b12(600, 250),
    )
    run = run_rules(RuleInput(rec, POLICY, TODAY, "patient-view"))
    about_gap = [f for f in run.findings if REPLACEMENT_GAP in f.about]
    assert len(about_gap) == 1
    assert about_gap[0].indicator == "critical"
    assert {about_gap[0].rule_id, *about_gap[0].merged} == {
        "maintenance-injection-overdue",
        "b12-therapy-stopped",
    }


def test_monitoring_and_homocysteine_cards_share_one_lab_order() -> None:
    rec = record(
        condition(PERNICIOUS_ANAEMIA, 600),
        im_order(every=84, start=390),
        injections(40, 124),
        b12(640, 200),
        hcy(13.5, 200),
    )
    run = run_rules(RuleInput(rec, POLICY, TODAY, "patient-view"))
    rules = {f.rule_id for f in run.findings}
    assert {"b12-monitoring-overdue", "homocysteine-above-target"} <= rules
    with_labs = [
        f for f in run.findings if any(isinstance(s, ProposeLabTests) for s in f.suggestions)
    ]
    assert len(with_labs) == 1
