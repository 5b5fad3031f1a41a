"""maintenance-not-started: B12 deficiency treated (loading given) but no maintenance regimen."""

from __future__ import annotations

import pytest

from cds_service.record.model import Agent, Route, Source
from cds_service.rules import maintenance_not_started as rule
from cds_service.rules.base import ProposeB12Injection
from tests.rules.builders import (
    LOADING_DONE,
    PERNICIOUS_ANAEMIA,
    POLYNEUROPATHY,
    Case,
    Item,
    assert_case,
    b12,
    cases,
    condition,
    disabled,
    folic_acid,
    im_order,
    injection,
    injections,
    med,
    metformin,
    record,
    run,
    run_enabled,
)

LOADED = injections(*LOADING_DONE)
PA = condition(PERNICIOUS_ANAEMIA, 400)

CASES = cases(
    Case(
        "four weekly loading injections done, no maintenance order: warning",
        record(LOADED, b12(453, 40)),
        "warning",
    ),
    Case(
        "loading done and hydroxocobalamin every 12 weeks ordered: silent",
        record(LOADED, im_order(every=84, start=40)),
        None,
    ),
    Case(
        "loading done and a 12-weekly x 4 order (a year of repeats): maintenance is in place",
        record(LOADED, im_order(every=84, start=40, count=4)),
        None,
    ),
    Case(
        "loading done and daily oral B12 stated: a maintenance regimen is in place",
        record(LOADED, med(Agent.B12, Source.STATEMENT, start=40, route=Route.ORAL, every=1)),
        None,
    ),
    Case(
        "loading course order x 6 still running (started 5 days ago): too early",
        record(im_order(every=2, start=5, count=6), injections(5, 3, 1)),
        None,
    ),
    Case(
        "loading course order x 6 ended (started 30 days ago), nothing since: warning",
        record(im_order(every=2, start=30, count=6), injections(30, 28, 26, 24, 22, 20)),
        "warning",
    ),
    Case(
        "last two injections 28 days apart: maintenance in practice, silent",
        record(LOADED, injection(21)),
        None,
    ),
    Case(
        "last two injections 27 days apart: still loading, warning",
        record(LOADED, injection(22)),
        "warning",
    ),
    Case(
        "B12 maintenance order stopped years ago: started then ended, b12-therapy-stopped's question",
        record(im_order(every=84, start=1500, status="stopped")),
        None,
    ),
    Case(
        "never had B12 therapy: silent",
        record(b12(100, 10), PA),
        None,
    ),
    Case(
        "only folic acid and metformin on record: silent",
        record(folic_acid(status="active", start=30), metformin()),
        None,
    ),
    Case(
        "B12 order entered in error only: silent",
        record(im_order(every=84, start=40, status="entered-in-error")),
        None,
    ),
    Case(
        "loading injection recorded as 2026-10 only and no maintenance: warning",
        record(injection("2026-10")),
        "warning",
    ),
)


@pytest.mark.parametrize("case", CASES)
def test_not_started(case: Case) -> None:
    assert_case(rule, case)


@pytest.mark.parametrize(
    ("extra", "days"),
    [
        pytest.param((), 91, id="3-monthly by default"),
        pytest.param((condition(POLYNEUROPATHY),), 61, id="2-monthly with neuropathy"),
    ],
)
def test_suggests_the_guideline_interval(extra: tuple[Item, ...], days: int) -> None:
    finding = run(rule, Case("x", record(LOADED, *extra), "warning"))
    assert finding is not None
    (proposal,) = finding.suggestions
    assert isinstance(proposal, ProposeB12Injection) and proposal.interval_days == days


def test_lifelong_wording_with_an_irreversible_cause() -> None:
    finding = run(rule, Case("x", record(LOADED, PA), "warning"))
    assert finding is not None and "for life" in finding.advice
    assert "2026-10-07" in finding.summary  # the last loading dose, 49 days ago


def test_disabled_in_policy() -> None:
    case = Case("fires", record(LOADED), "warning")
    assert run_enabled(rule, case) is not None
    assert run_enabled(rule, disabled(rule, case)) is None
