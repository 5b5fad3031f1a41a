"""The README's integration guide says what the code does: the rule table, the override
reasons each card offers and which of them silence it by default, the service ids, and the
outline an integration engineer reads before any internals."""

from __future__ import annotations

import ast
import inspect
import json
import re
from pathlib import Path
from types import ModuleType

from cds_service.policy import load_policy
from cds_service.rules import RULES
from cds_service.rules.base import OverrideReason

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", README, re.M | re.S)
    assert match, f"README has no section {title!r}"
    return match.group(1)


def _table(section: str) -> list[list[str]]:
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows[2:]]


def _offered(module: ModuleType) -> set[str]:
    """The codes of every OverrideReason the module passes as `override_reasons=`."""
    tree = ast.parse(inspect.getsource(module))
    codes = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "override_reasons":
            assert isinstance(node.value, ast.Tuple)
            for element in node.value.elts:
                assert isinstance(element, ast.Name)
                reason = getattr(module, element.id)
                assert isinstance(reason, OverrideReason)
                codes.add(reason.code)
    return codes


def test_the_guide_comes_before_the_internals() -> None:
    titles = re.findall(r"^## (.+)$", README, re.M)
    guide = [
        "Registering the service in an EHR",
        "What it says and when",
        "Which clinician answers silence a card",
        "Changing the clinical policy",
        "Command line",
        "Where the data lives",
    ]
    assert titles[: len(guide)] == guide
    assert titles.index("Performance benchmark") > len(guide)


def test_the_rule_table_lists_every_rule_with_its_hooks_and_module() -> None:
    rows = _table(_section("What it says and when"))
    listed = {}
    for rule_cell, hooks, *_ in rows:
        rule_id, link = re.fullmatch(r"\[`([a-z0-9-]+)`\]\(([^)]+)\)", rule_cell).groups()  # type: ignore[union-attr]
        listed[rule_id] = (set(hooks.split(", ")), link)
    assert set(listed) == {m.RULE_ID for m in RULES}
    for module in RULES:
        hooks, link = listed[module.RULE_ID]
        assert hooks == set(module.HOOKS), module.RULE_ID
        assert (REPO / link).resolve() == Path(inspect.getfile(module)).resolve()


def test_the_override_table_matches_what_each_card_offers_and_the_policy_silences() -> None:
    silencing = set(load_policy().suppression["override_reason_codes"])
    assert all(
        f"`{code}`" in _section("Which clinician answers silence a card") for code in silencing
    )
    rows = {
        row[0].strip("`"): row for row in _table(_section("Which clinician answers silence a card"))
    }
    assert set(rows) == {m.RULE_ID for m in RULES}
    for module in RULES:
        _, offered_cell, silenced_cell = rows[module.RULE_ID]
        offered = set(re.findall(r"`([a-z0-9-]+)`", offered_cell))
        assert offered == _offered(module), module.RULE_ID
        expected = offered & silencing
        if silenced_cell == "none":
            assert not expected, module.RULE_ID
        elif silenced_cell == "both":
            assert len(expected) == 2, module.RULE_ID
        else:
            assert set(re.findall(r"`([a-z0-9-]+)`", silenced_cell)) == expected, module.RULE_ID


def test_the_registration_table_names_each_service_and_hook() -> None:
    section = _section("Registering the service in an EHR")
    table = section[section.index("| service id |") :].split("\n\n", 1)[0]
    listed = {row[0].strip("`"): row[1].strip("`") for row in _table(table)}
    services = {}
    for path in (REPO / "hooks" / "services").glob("*.json"):
        entry = json.loads(path.read_text(encoding="utf-8"))
        services[entry["id"]] = entry["hook"]
    assert listed == services
