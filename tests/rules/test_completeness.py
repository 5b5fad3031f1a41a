"""rules.completeness: what a cut search does to a finding, and the table it decides by."""

from __future__ import annotations

import dataclasses

import pytest

from cds_service.policy import load_policy
from cds_service.protocol.catalog import load_catalog
from cds_service.record.completeness import (
    COMPLETE,
    Completeness,
    Coverage,
    Missing,
    SearchStatus,
)
from cds_service.rules import RULES, run_rules
from cds_service.rules.base import Finding, Guideline, ProposeB12Injection, RuleInput
from cds_service.rules.completeness import ANY, RECENT, RESTS_ON_ABSENCE, confirm, undermining
from tests.rules.builders import (
    PERNICIOUS_ANAEMIA,
    POLICY,
    TODAY,
    condition,
    im_order,
    injections,
    record,
)


def cut(key: str, missing: Missing, words: str = "medication administrations") -> Completeness:
    return Completeness.of(SearchStatus(key, Coverage.TRUNCATED, missing, words, 3, 9))


def finding(rule_id: str = "maintenance-injection-overdue", indicator: str = "warning") -> Finding:
    return Finding(
        rule_id=rule_id,
        indicator=indicator,  # type: ignore[arg-type]
        summary="B12 injection overdue: last given 2026-03-20, 250 days ago",
        guideline=Guideline("BNF", "https://example.org"),
        advice="Give a dose now.",
        caveats=("an older caveat",),
        suggestions=(ProposeB12Injection(label="Order one dose", doses=1, recommended=True),),
    )


def test_the_table_names_every_rule_and_only_prefetch_keys() -> None:
    assert set(RESTS_ON_ABSENCE) == {r.RULE_ID for r in RULES}
    keys = {k for s in load_catalog().services for k in s.prefetch}
    for rule_id, needs in RESTS_ON_ABSENCE.items():
        assert set(needs) <= keys - {"patient"}, rule_id
        assert set(needs.values()) <= {RECENT, ANY}


def test_a_cut_with_unknown_order_makes_a_warning_unconfirmed_info() -> None:
    shown = confirm(finding(), cut("medadmins", Missing.UNKNOWN), load_policy())
    assert shown is not None
    assert shown.indicator == "info"
    assert shown.summary == (
        "Unconfirmed, medication administrations incomplete: "
        "B12 injection overdue: last given 2026-03-20, 250 days ago"
    )
    assert shown.caveats[0].startswith("Unconfirmed (it would be warning): this conclusion rests")
    assert "medication administrations ('medadmins')" in shown.caveats[0]
    assert shown.caveats[1:] == ("an older caveat",)
    assert shown.advice.startswith("Check the complete record before acting")
    assert not any(s.recommended for s in shown.suggestions)


def test_a_newest_first_cut_leaves_a_recent_conclusion_alone() -> None:
    original = finding()
    assert confirm(original, cut("medadmins", Missing.OLDER), load_policy()) is original
    assert undermining("maintenance-injection-overdue", cut("medadmins", Missing.NEWER))


def test_an_any_conclusion_is_undermined_by_every_cut() -> None:
    orders = cut("medrequests", Missing.OLDER, "medication orders")
    assert undermining("b12-therapy-stopped", orders)
    assert not undermining("homocysteine-above-target", orders)  # reads no orders


def test_absent_or_failed_searches_undermine_whatever_the_basis() -> None:
    for coverage in (Coverage.ABSENT, Coverage.FAILED):
        gone = Completeness.of(SearchStatus("labs", coverage, words="laboratory results"))
        assert undermining("homocysteine-above-target", gone)


def test_a_rule_missing_from_the_table_rests_on_everything() -> None:
    assert undermining("a-new-rule", cut("procedures", Missing.OLDER, "procedures"))


def test_the_silent_policy_drops_the_finding() -> None:
    silent = dataclasses.replace(load_policy(), absence_conclusions="silent")
    assert confirm(finding(), cut("medadmins", Missing.UNKNOWN), silent) is None
    assert confirm(finding(), COMPLETE, silent) is not None


def test_the_summary_stays_under_140_characters() -> None:
    long = dataclasses.replace(finding(), summary="x" * 139)
    shown = confirm(long, cut("medadmins", Missing.UNKNOWN), load_policy())
    assert shown is not None and len(shown.summary) == 139 and shown.summary.endswith("…")


@pytest.mark.parametrize("missing", [Missing.UNKNOWN, Missing.NEWER])
def test_run_rules_applies_it_after_the_policy_indicator(missing: Missing) -> None:
    """A PA patient whose last recorded dose is 250 days old: critical on a complete record."""
    rec = record(condition(PERNICIOUS_ANAEMIA, 1100), im_order(84, 900), injections(250, 340, 430))
    full = run_rules(RuleInput(rec, POLICY, TODAY, "patient-view"))
    assert {f.rule_id: f.indicator for f in full.findings}[
        "maintenance-injection-overdue"
    ] == "critical"
    run = run_rules(RuleInput(rec, POLICY, TODAY, "patient-view", None, cut("medadmins", missing)))
    shown = {f.rule_id: f for f in run.findings}["maintenance-injection-overdue"]
    assert shown.indicator == "info" and "it would be critical" in shown.caveats[0]


def test_several_cut_searches_are_named_in_the_caveat_and_summed_up_in_the_summary() -> None:
    several = Completeness.of(
        SearchStatus(
            "medadmins", Coverage.TRUNCATED, Missing.UNKNOWN, "medication administrations"
        ),
        SearchStatus("medrequests", Coverage.TRUNCATED, Missing.OLDER, "medication orders"),
    )
    shown = confirm(finding(), several, load_policy())
    assert shown is not None
    assert shown.summary.startswith("Unconfirmed, records incomplete: B12 injection overdue")
    assert (
        "medication administrations ('medadmins'), medication orders ('medrequests')"
        in (shown.caveats[0])
    )
