"""Across every fixture: one card per clinical fact, one lab order between cards, and card
text a clinician reads once (no repeated words, no diagnosis named twice, the source named
once, by the card's source link)."""

from __future__ import annotations

import itertools
import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from cds_service.cards import RenderContext, render_cards
from cds_service.data.prefetch import gather
from cds_service.policy import load_policy
from cds_service.protocol.catalog import load_catalog
from cds_service.protocol.request import hook_request_from
from cds_service.record import read_orders, read_record
from cds_service.rules import analytes_for, run_rules, series_for
from cds_service.rules.base import Finding, ProposeLabTests, RuleInput
from cds_service.settings import Settings

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
REQUESTS = sorted(FIXTURES.glob("*/request.json"))
TODAY = date(2026, 11, 25)
POLICY = load_policy()
CATALOG = load_catalog()


def _evaluate(path: Path) -> tuple[dict[str, Any], tuple[Finding, ...]]:
    request = json.loads(path.read_text(encoding="utf-8"))
    service = CATALOG.service(f"b12-{request['hook']}")
    assert service is not None
    hook_request = hook_request_from(request, service, CATALOG)
    raw = gather(hook_request, service, fetcher=None, settings=Settings())
    record = read_record(
        hook_request.patient_id,
        raw.resources,
        POLICY,
        (),
        analytes_for(hook_request.hook),
        series_for(hook_request.hook),
    )
    orders = None
    if hook_request.hook != "patient-view":
        selections = hook_request.selections if hook_request.hook == "order-select" else None
        orders = read_orders(hook_request.draft_orders, selections, POLICY)
    run = run_rules(RuleInput(record, POLICY, TODAY, hook_request.hook, orders))
    assert not run.failures, run.failures
    return request, run.findings


by_fixture = pytest.mark.parametrize("path", REQUESTS, ids=[p.parent.name for p in REQUESTS])


@by_fixture
def test_no_fixture_gets_two_cards_for_one_fact(path: Path) -> None:
    _, findings = _evaluate(path)
    seen: dict[str, str] = {}
    for finding in findings:
        for fact in finding.about:
            assert fact not in seen, f"{fact}: {seen[fact]} and {finding.rule_id}"
            seen[fact] = finding.rule_id


@by_fixture
def test_at_most_one_card_asks_for_a_lab_order(path: Path) -> None:
    _, findings = _evaluate(path)
    with_labs = [
        f.rule_id for f in findings if any(isinstance(s, ProposeLabTests) for s in f.suggestions)
    ]
    assert len(with_labs) <= 1, with_labs


def _words(line: str) -> list[str]:
    return [w for w in (t.lower().strip(".,;:()[]*\\") for t in line.split()) if w]


def _named(request: dict[str, Any]) -> set[str]:
    """The displays of the conditions and procedures the request holds."""
    names: set[str] = set()
    for value in (request.get("prefetch") or {}).values():
        for entry in (value or {}).get("entry", []):
            resource = entry.get("resource", {})
            if resource.get("resourceType") in ("Condition", "Procedure"):
                text = resource.get("code", {}).get("text")
                if text:
                    names.add(text)
    return names


@by_fixture
def test_card_text_reads_once(path: Path) -> None:
    request, findings = _evaluate(path)
    cards = render_cards(findings, RenderContext(patient_id="p", hook=request["hook"], today=TODAY))
    names = _named(request)
    for card in cards:
        lines = [card["summary"], *card["detail"].split("\n")]
        for line in lines:
            words = _words(line)
            repeated = [a for a, b in itertools.pairwise(words) if a == b]
            assert not repeated, f"repeated word in {line!r}"
        assert card["source"]["label"] not in card["detail"], "the source is named twice"
        evidence = card["detail"].split("**Data incomplete:**")[0]  # caveats are notes
        bullets = [line for line in evidence.split("\n") if line.startswith("- ")]
        assert len(bullets) == len(set(bullets)), "an evidence line is repeated"
        for name in names:
            escaped = re.escape(name.replace("'", "\\'"))
            naming = [b for b in bullets if re.search(escaped, b.replace("\\", ""))]
            assert len(naming) <= 1, f"{name!r} named in {len(naming)} lines: {naming}"
