"""Every rule module against the service contract, and safety properties across all rules."""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from cds_service.record.model import DataGap, Orders, PatientRecord
from cds_service.rules import RULES, rules_for
from cds_service.rules.base import Guideline
from tests.rules.builders import (
    B12_DEFICIENCY,
    PERNICIOUS_ANAEMIA,
    POLICY,
    POLYNEUROPATHY,
    Case,
    b12,
    condition,
    draft,
    folic_acid,
    hcy,
    im_order,
    injection,
    oral_b12,
    orders,
    phq9,
    record,
    run,
)

# The rule table of the service contract (contract.md, "Cards"): rule id -> hooks.
CONTRACT: dict[str, frozenset[str]] = {
    "maintenance-not-started": frozenset({"patient-view"}),
    "maintenance-injection-overdue": frozenset({"patient-view"}),
    "b12-monitoring-overdue": frozenset({"patient-view"}),
    "homocysteine-above-target": frozenset({"patient-view"}),
    "b12-therapy-stopped": frozenset({"patient-view", "order-sign"}),
    "symptoms-recurring": frozenset({"patient-view"}),
    "neurological-review": frozenset({"patient-view"}),
    "metformin-b12-check": frozenset({"patient-view"}),
    "folic-acid-without-b12": frozenset({"order-select", "order-sign"}),
    "oral-b12-in-malabsorption": frozenset({"order-select", "order-sign"}),
    "maintenance-interval-too-long": frozenset({"order-select", "order-sign"}),
}
CONTRACT_FILE = Path("/work/shared/contract.md")
RULES_DIR = Path(__file__).resolve().parents[2] / "cds_service" / "rules"
NOT_RULES = {"__init__.py", "base.py", "completeness.py", "guidelines.py", "precedence.py"}

by_id = pytest.mark.parametrize("rule", RULES, ids=[r.RULE_ID for r in RULES])


def test_one_module_per_contract_rule() -> None:
    assert sorted(r.RULE_ID for r in RULES) == sorted(CONTRACT)
    modules = sorted(p.stem for p in RULES_DIR.glob("*.py") if p.name not in NOT_RULES)
    assert modules == sorted(r.__name__.rsplit(".", 1)[1] for r in RULES)
    assert all(r.__name__.endswith(r.RULE_ID.replace("-", "_")) for r in RULES)


@pytest.mark.skipif(not CONTRACT_FILE.exists(), reason="shared contract not present")
def test_table_above_matches_the_shared_contract() -> None:
    rows = re.findall(r"^\| ([a-z, -]+) \| `([a-z0-9-]+)` \|", CONTRACT_FILE.read_text(), re.M)
    table: dict[str, set[str]] = {}
    for hooks, rule_id in rows:
        table.setdefault(rule_id, set()).update(h.strip() for h in hooks.split(","))
    assert table == {k: set(v) for k, v in CONTRACT.items()}


@by_id
def test_hooks_match_the_contract(rule: ModuleType) -> None:
    assert frozenset(rule.HOOKS) == CONTRACT[rule.RULE_ID]
    for hook in ("patient-view", "order-select", "order-sign"):
        assert (rule in rules_for(hook)) is (hook in CONTRACT[rule.RULE_ID])


@by_id
def test_module_names_its_guideline_and_has_a_reviewable_header(rule: ModuleType) -> None:
    assert isinstance(rule.GUIDELINE, Guideline)
    assert rule.GUIDELINE.label and rule.GUIDELINE.url.startswith("https://")
    doc = rule.__doc__ or ""
    assert doc.startswith(f"{rule.RULE_ID} — ")
    for heading in ("When", "Then", "Guideline", "Why"):
        assert re.search(rf"^{heading}\b", doc, re.M), f"{rule.RULE_ID}: no {heading} line"
    assert callable(rule.evaluate)


@by_id
def test_policy_has_a_switch_for_the_rule(rule: ModuleType) -> None:
    assert POLICY.rules[rule.RULE_ID].enabled


# --- missing data never produces a critical card ------------------------------------------

GAP = DataGap("b12", "B12 result of 2026-10-01 skipped: no unit")
ALL_DRAFTS = orders(
    draft(folic_acid()), draft(oral_b12(None)), draft(im_order(every=None, start=0))
)
MISSING: list[tuple[str, PatientRecord]] = [
    ("an empty record", record()),
    ("only reader gaps", record(GAP, DataGap("bundle", "prefetch conditions missing"))),
    (
        "B12 deficiency coded but no B12 result and no therapy recorded",
        record(condition(B12_DEFICIENCY), GAP),
    ),
    (
        "censored B12 <200 pg/mL and neuropathy",
        record(b12(147.6, 30, comparator="<"), condition(POLYNEUROPATHY)),
    ),
    (
        "IM order with neuropathy and PA, no injections recorded",
        record(im_order(start=400), condition(POLYNEUROPATHY), condition(PERNICIOUS_ANAEMIA)),
    ),
    (
        "last injection year-only (2026) with neuropathy and PA",
        record(
            im_order(start=600),
            injection("2026"),
            condition(POLYNEUROPATHY),
            condition(PERNICIOUS_ANAEMIA),
        ),
    ),
    (
        "neuropathy with no dates, deficiency coded",
        record(condition(POLYNEUROPATHY, None), condition(B12_DEFICIENCY, None)),
    ),
    (
        "censored homocysteine and PHQ-9 on maintenance",
        record(
            im_order(start=600),
            injection(30),
            hcy(12, 10, comparator="<"),
            phq9(10, 5, comparator=">="),
            phq9(2, 20),
        ),
    ),
]


# Open concern (reported, not changed): oral-b12-in-malabsorption is critical with neuropathy
# and "no IM dose in the last 3 months" even when an IM order is active and only the
# administrations are unrecorded; its header and clinical.md R6 say so, C.0 says never.
KNOWN_OPEN: set[tuple[str, str]] = set()


def _cases() -> list[Any]:
    params: list[Any] = []
    for rule in RULES:
        for label, rec in MISSING:
            marks = (
                [
                    pytest.mark.xfail(
                        strict=True, reason="open concern: critical on unrecorded doses"
                    )
                ]
                if (rule.RULE_ID, label) in KNOWN_OPEN
                else []
            )
            params.append(
                pytest.param(rule, label, rec, marks=marks, id=f"{rule.RULE_ID}: {label}")
            )
    return params


@pytest.mark.parametrize(("rule", "label", "rec"), _cases())
def test_missing_data_is_never_critical(rule: ModuleType, label: str, rec: PatientRecord) -> None:
    for hook in rule.HOOKS:
        drafts: Orders | None = None if hook == "patient-view" else ALL_DRAFTS
        finding = run(rule, Case(label, rec, None, orders=drafts, hook=hook))
        assert finding is None or finding.indicator != "critical", (hook, finding.summary)
