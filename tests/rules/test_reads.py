"""Each rule's `READS` (the lab analytes it reads) is complete, so the record of a hook call,
read for its rules' analytes only, gives every rule the answer a full reading would.

Three guards: a static one (every `Analyte.X` a rule module names, itself or through the
rule-folder modules it imports, is in its `READS`), a behavioural one (every fixture's data,
read both ways, gives the same findings for every hook), and the record itself refuses to
answer for an analyte it was not read for, so a missing entry fails loudly, never silently.
"""

from __future__ import annotations

import ast
import importlib
import json
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from types import ModuleType

import pytest

from cds_service.data.prefetch import gather
from cds_service.policy import load_policy
from cds_service.protocol.catalog import load_catalog
from cds_service.protocol.request import hook_request_from
from cds_service.record import read_orders, read_record
from cds_service.record.model import Analyte, PatientRecord
from cds_service.rules import RULES, analytes_for, rules_for, run_rules, series_for
from cds_service.rules.base import RuleInput
from cds_service.settings import Settings

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
REQUESTS = sorted(FIXTURES.glob("*/request.json"))
TODAY = date(2026, 11, 25)
HOOKS = ("patient-view", "order-select", "order-sign")
by_id = pytest.mark.parametrize("rule", RULES, ids=[r.RULE_ID for r in RULES])


def _tree(module: ModuleType) -> ast.Module:
    assert module.__file__ is not None
    return ast.parse(Path(module.__file__).read_text(encoding="utf-8"))


def _named_analytes(module: ModuleType, seen: set[str] | None = None) -> set[Analyte]:
    """`Analyte.X` named in the module's source and in the rule-folder modules it imports."""
    seen = set() if seen is None else seen
    if module.__name__ in seen or module.__file__ is None:
        return set()
    seen.add(module.__name__)
    tree = _tree(module)
    found: set[Analyte] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "Analyte"
        ):
            found.add(Analyte[node.attr])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "cds_service.rules"
        ):
            names = [node.module or ""]
            if node.module == "cds_service.rules":
                names = [f"cds_service.rules.{alias.name}" for alias in node.names]
            for name in names:
                try:
                    imported = importlib.import_module(name)
                except ModuleNotFoundError:
                    continue  # `from cds_service.rules import NAME`, NAME not a module
                found |= _named_analytes(imported, seen)
    return found


def _uses_analyte_loosely(module: ModuleType) -> bool:
    """`Analyte` used other than as `Analyte.X` or in a type annotation (e.g. iterated, or
    called with a value): the static check cannot see which analytes that reads."""
    tree = _tree(module)
    allowed: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            allowed.add(id(node.value))
        annotations: list[ast.AST | None] = []
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            arguments = node.args
            every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
            every += [a for a in (arguments.vararg, arguments.kwarg) if a is not None]
            annotations = [a.annotation for a in every] + [node.returns]
        elif isinstance(node, ast.AnnAssign):
            annotations = [node.annotation]
        for annotation in annotations:
            if annotation is not None:
                allowed.update(id(inner) for inner in ast.walk(annotation))
    return any(
        isinstance(node, ast.Name) and node.id == "Analyte" and id(node) not in allowed
        for node in ast.walk(tree)
    )


def test_the_loose_use_check_can_fail(tmp_path: Path) -> None:
    source = tmp_path / "loose_rule.py"
    source.write_text("from x import Analyte\nEVERY = [a for a in Analyte]\n", encoding="utf-8")
    module = ModuleType("loose_rule")
    module.__file__ = str(source)
    assert _uses_analyte_loosely(module)
    source.write_text(
        "from x import Analyte\ndef f(a: Analyte) -> Analyte:\n    return Analyte.B12\n"
    )
    assert not _uses_analyte_loosely(module)


def _analyte_collections() -> set[str]:
    """Names in `record.model` that hold analytes (e.g. SERIES_ANALYTES): a rule reading
    through one of them reads analytes the static check would not see by name."""
    from cds_service.record import model

    found: set[str] = set()
    for name, value in vars(model).items():
        if isinstance(value, Mapping | set | frozenset | list | tuple):
            if any(isinstance(item, Analyte) for item in value):
                found.add(name)
    return found


def _imports_analyte_collections(module: ModuleType) -> set[str]:
    tree = _tree(module)
    collections = _analyte_collections()
    return {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "cds_service.record.model"
        for alias in node.names
        if alias.name in collections
    }


def test_record_model_analyte_collections_are_recognised() -> None:
    assert {"SERIES_ANALYTES", "UNIT_OF"} <= _analyte_collections()


@by_id
def test_reads_names_every_analyte_the_rule_module_names(rule: ModuleType) -> None:
    assert isinstance(rule.READS, frozenset)
    assert all(isinstance(a, Analyte) for a in rule.READS)
    missing = _named_analytes(rule) - rule.READS
    assert not missing, f"{rule.RULE_ID} names {sorted(missing)} but READS leaves them out"
    assert not _uses_analyte_loosely(rule), f"{rule.RULE_ID} uses Analyte other than Analyte.X"


def _series_named(module: ModuleType, seen: set[str] | None = None) -> set[Analyte]:
    """`X` of every `....results(Analyte.X)` in the module and the rule-folder modules it
    imports: what it reads as a whole series."""
    seen = set() if seen is None else seen
    if module.__name__ in seen or module.__file__ is None:
        return set()
    seen.add(module.__name__)
    found: set[Analyte] = set()
    for node in ast.walk(_tree(module)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "results"
            and node.args
            and isinstance(node.args[0], ast.Attribute)
            and isinstance(node.args[0].value, ast.Name)
            and node.args[0].value.id == "Analyte"
        ):
            found.add(Analyte[node.args[0].attr])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "cds_service.rules"
        ):
            names = [node.module or ""]
            if node.module == "cds_service.rules":
                names = [f"cds_service.rules.{alias.name}" for alias in node.names]
            for name in names:
                try:
                    imported = importlib.import_module(name)
                except ModuleNotFoundError:
                    continue
                found |= _series_named(imported, seen)
    return found


@by_id
def test_series_names_every_analyte_the_rule_reads_as_a_series(rule: ModuleType) -> None:
    assert isinstance(rule.SERIES, frozenset) and rule.SERIES <= rule.READS
    missing = _series_named(rule) - rule.SERIES
    assert not missing, (
        f"{rule.RULE_ID} reads {sorted(missing)} as a series but SERIES leaves them out"
    )


def test_the_series_check_can_fail() -> None:
    from cds_service.rules import b12_monitoring_overdue

    assert {Analyte.B12, Analyte.PHQ9} <= _series_named(b12_monitoring_overdue)


def test_order_hooks_read_homocysteine_as_its_latest_result_only() -> None:
    assert Analyte.HOMOCYSTEINE in analytes_for("order-select")
    assert Analyte.HOMOCYSTEINE not in series_for("order-select")
    assert Analyte.HOMOCYSTEINE in series_for("patient-view")
    record = PatientRecord("p", analytes=frozenset({Analyte.HOMOCYSTEINE}), series=frozenset())
    with pytest.raises(ValueError, match="latest result only"):
        record.results(Analyte.HOMOCYSTEINE)


RULE_FOLDER = sorted(
    p.stem for p in (Path(__file__).resolve().parents[2] / "cds_service" / "rules").glob("*.py")
)


@pytest.mark.parametrize("name", RULE_FOLDER)
def test_no_rule_folder_module_reads_analytes_through_a_collection(name: str) -> None:
    package = "cds_service.rules"
    module = importlib.import_module(package if name == "__init__" else f"{package}.{name}")
    assert not _imports_analyte_collections(module)


def test_the_static_check_can_fail() -> None:
    from cds_service.rules import homocysteine_above_target

    assert Analyte.HOMOCYSTEINE in _named_analytes(homocysteine_above_target)
    assert Analyte.B12 in _named_analytes(homocysteine_above_target)  # through `facts`


def test_a_hook_reads_the_union_of_its_rules_reads() -> None:
    for hook in HOOKS:
        assert analytes_for(hook) == frozenset().union(*(r.READS for r in rules_for(hook)))
    # what the order hooks leave unread is what makes their reading cheaper; homocysteine
    # and MMA they do read: functional deficiency decides the folic-acid card too
    assert Analyte.PHQ9 not in analytes_for("order-select")
    assert Analyte.HB not in analytes_for("order-select")
    assert {Analyte.HOMOCYSTEINE, Analyte.MMA} <= analytes_for("order-select")


def test_a_record_refuses_an_analyte_it_was_not_read_for() -> None:
    record = PatientRecord("p", analytes=frozenset({Analyte.B12}))
    assert record.latest(Analyte.B12) is None
    assert record.results(Analyte.B12) == ()
    with pytest.raises(ValueError, match="not read"):
        record.latest(Analyte.HOMOCYSTEINE)
    with pytest.raises(ValueError, match="not read"):
        record.results(Analyte.PHQ9)


def _findings(request: dict, hook: str, limited: bool) -> tuple[object, ...]:
    catalog, settings = load_catalog(), Settings()
    policy = load_policy(settings.policy)
    service = catalog.service(f"b12-{request['hook']}")
    assert service is not None
    hook_request = hook_request_from(request, service, catalog)
    raw = gather(hook_request, service, fetcher=None, settings=settings)
    analytes = analytes_for(hook) if limited else None
    series = series_for(hook) if limited else None
    record = read_record(hook_request.patient_id, raw.resources, policy, (), analytes, series)
    orders = None
    if hook != "patient-view":
        selections = hook_request.selections if hook == "order-select" else None
        orders = read_orders(hook_request.draft_orders, selections, policy)
    run = run_rules(RuleInput(record, policy, TODAY, hook, orders))
    assert not run.failures, run.failures
    return run.findings


@pytest.mark.parametrize("path", REQUESTS, ids=[p.parent.name for p in REQUESTS])
def test_every_fixture_gives_the_same_findings_read_for_the_hook_or_in_full(path: Path) -> None:
    request = json.loads(path.read_text(encoding="utf-8"))
    for hook in HOOKS:
        assert _findings(request, hook, limited=True) == _findings(request, hook, limited=False)


def test_a_limited_reading_skips_other_analytes_and_their_gaps() -> None:
    def obs(ident: str, loinc: str, value: object) -> dict:
        return {
            "resourceType": "Observation",
            "id": ident,
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
            "subject": {"reference": "Patient/p"},
            "effectiveDateTime": "2026-10-01",
            "valueQuantity": {"value": value, "unit": "umol/L", "code": "umol/L"},
        }

    resources = [obs("b", "14685-2", 300), obs("h", "13965-9", "not a number")]
    resources[0]["valueQuantity"] = {"value": 300, "unit": "pmol/L", "code": "pmol/L"}
    policy = load_policy("seed")
    full = read_record("p", resources, policy)
    limited = read_record("p", resources, policy, (), frozenset({Analyte.B12}))
    assert {lab.analyte for lab in full.labs} == {Analyte.B12}
    assert full.gaps_about("homocysteine")  # the unreadable homocysteine is reported...
    assert not limited.gaps_about("homocysteine")  # ...only when homocysteine is read
    assert [(lab.analyte, lab.value) for lab in limited.labs] == [(Analyte.B12, 300.0)]
