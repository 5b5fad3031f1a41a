"""The B12 rules: one pure module per rule id, run in the order listed in `RULES`.

`run_rules` isolates rules from each other: a rule that raises on strange data loses
only its own card; the failure is reported (rule id and exception type only) so the
edge can log and count it. A finding that rests on the absence of records from a search
that was cut is made unconfirmed info, or dropped (`rules.completeness`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache
from types import ModuleType

from cds_service.record.model import Analyte
from cds_service.rules import (
    b12_monitoring_overdue,
    b12_therapy_stopped,
    folic_acid_without_b12,
    homocysteine_above_target,
    maintenance_injection_overdue,
    maintenance_interval_too_long,
    maintenance_not_started,
    metformin_b12_check,
    neurological_review,
    oral_b12_in_malabsorption,
    precedence,
    symptoms_recurring,
)
from cds_service.rules.base import SEVERITY, Finding, RuleInput
from cds_service.rules.completeness import confirm

# Safety first: the reading order is the running order and the card order within a severity.
RULES: tuple[ModuleType, ...] = (
    folic_acid_without_b12,
    b12_therapy_stopped,
    neurological_review,
    oral_b12_in_malabsorption,
    maintenance_interval_too_long,
    maintenance_not_started,
    maintenance_injection_overdue,
    symptoms_recurring,
    homocysteine_above_target,
    b12_monitoring_overdue,
    metformin_b12_check,
)


@dataclass(frozen=True, slots=True)
class RuleFailure:
    rule_id: str
    error: str  # exception class name only: messages may quote patient data


@dataclass(frozen=True, slots=True)
class RuleRun:
    findings: tuple[Finding, ...]
    failures: tuple[RuleFailure, ...]


def rules_for(hook: str) -> tuple[ModuleType, ...]:
    return tuple(rule for rule in RULES if hook in rule.HOOKS)


@cache
def series_for(hook: str) -> frozenset[Analyte]:
    """The analytes the hook's rules read as a whole series (each rule's `SERIES`); the
    record holds only the newest usable result of the others (the order hooks need only the
    latest homocysteine, so a long homocysteine history costs them one reading)."""
    return frozenset().union(*(rule.SERIES for rule in rules_for(hook)))


@cache
def analytes_for(hook: str) -> frozenset[Analyte]:
    """The lab analytes the hook's rules read (each rule's `READS`): the record of a hook
    call is read for these only, and asking it for another raises. Fixed per hook, so
    worked out once."""
    return frozenset().union(*(rule.READS for rule in rules_for(hook)))


def run_rules(inp: RuleInput, rules: tuple[ModuleType, ...] | None = None) -> RuleRun:
    """Evaluate every enabled rule for the hook; one finding per rule at most."""
    findings: list[Finding] = []
    failures: list[RuleFailure] = []
    for rule in rules if rules is not None else rules_for(inp.hook):
        rule_id: str = rule.RULE_ID
        if not inp.policy.rule_enabled(rule_id):
            continue
        evaluate: Callable[[RuleInput], Finding | None] = rule.evaluate
        try:
            finding = evaluate(inp)
        except Exception as exc:
            failures.append(RuleFailure(rule_id, type(exc).__name__))
            continue
        if finding is not None:
            indicator = inp.policy.indicator_for(rule_id, finding.indicator)
            if indicator != finding.indicator:
                finding = replace(finding, indicator=indicator)  # type: ignore[arg-type]
            if inp.completeness.searches:
                finding = confirm(finding, inp.completeness, inp.policy)
            if finding is not None:
                findings.append(finding)
    return RuleRun(tuple(settle(findings)), tuple(failures))


def settle(findings: list[Finding]) -> list[Finding]:
    """Most urgent first (RULES order within a level), one card per clinical fact, one lab
    order between the cards (`precedence`)."""
    findings = sorted(findings, key=lambda f: -SEVERITY[f.indicator])  # stable
    findings = precedence.one_card_per_fact(findings)
    return precedence.one_lab_order(findings)
