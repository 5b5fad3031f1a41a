"""The B12 rules: one pure module per rule id, run in the order listed in `RULES`.

`run_rules` isolates rules from each other: a rule that raises on strange data loses
only its own card; the failure is reported (rule id and exception type only) so the
edge can log and count it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from cds_service.rules.base import Finding, RuleInput

RULES: tuple[ModuleType, ...] = ()


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
        except Exception as exc:  # noqa: BLE001 - isolation is the point
            failures.append(RuleFailure(rule_id, type(exc).__name__))
            continue
        if finding is not None:
            indicator = inp.policy.indicator_for(rule_id, finding.indicator)
            if indicator != finding.indicator:
                from dataclasses import replace

                finding = replace(finding, indicator=indicator)  # type: ignore[arg-type]
            findings.append(finding)
    return RuleRun(tuple(findings), tuple(failures))
