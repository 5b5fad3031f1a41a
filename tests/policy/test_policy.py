"""The clinical policy: the built-in profiles load, and a bad site file is refused naming the field."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from cds_service.policy import DEFAULT_POLICY_PATH, PolicyError, load_policy
from cds_service.record.model import Analyte, FuzzyDate, LabResult, PatientRecord, Precision
from cds_service.rules import b12_monitoring_overdue, homocysteine_above_target
from cds_service.rules.base import RuleInput

TODAY = date(2026, 11, 25)


def _site_policy(tmp_path: Path, change: dict[str, object]) -> Path:
    data = json.loads(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    for dotted, value in change.items():
        target = data
        *parents, leaf = dotted.split(".")
        for key in parents:
            target = target[key]
        target[leaf] = value
    path = tmp_path / "site.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_the_default_is_the_original_protocol() -> None:
    policy = load_policy()
    assert policy.name == "seed"
    assert policy.monitoring_profile == "seed"
    assert policy.threshold("homocysteine_target_umol_l") == 10
    assert policy.days("maintenance") == 91 and policy.days("maintenance_neuro") == 61
    assert policy.days("grace") == 14


def test_uk_guideline_is_a_built_in_switch() -> None:
    policy = load_policy("uk-guideline")
    assert policy.monitoring_profile == "uk-guideline"
    assert policy.thresholds["homocysteine_use_lab_reference_high"] is True


def _hcy(value: float) -> PatientRecord:
    day = date(2026, 11, 1)
    when = FuzzyDate(day, day, Precision.DAY, day.isoformat())
    result = LabResult("Observation/h", Analyte.HOMOCYSTEINE, value, None, when, "13965-9", "")
    return PatientRecord("p", labs=(result,))


@pytest.mark.parametrize(("profile", "fires"), [("seed", True), ("uk-guideline", False)])
def test_homocysteine_12_is_above_the_protocol_target_but_not_the_lab_limit(
    profile: str, fires: bool
) -> None:
    inp = RuleInput(_hcy(12.0), load_policy(profile), TODAY, "patient-view")
    assert (homocysteine_above_target.evaluate(inp) is not None) is fires


def test_monitoring_rule_reads_the_profile() -> None:
    assert (
        b12_monitoring_overdue.evaluate(
            RuleInput(_hcy(8.0), load_policy("uk-guideline"), TODAY, "patient-view")
        )
        is None
    )  # not on maintenance: silent under either profile


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"thresholds.homocysteine_target_umol_l": -1}, "thresholds/homocysteine_target_umol_l"),
        ({"intervals_days.grace": "two weeks"}, "intervals_days/grace"),
        ({"monitoring_profile": "yearly"}, "monitoring_profile"),
        (
            {"rules.maintenance-not-started": {"enabled": "yes"}},
            "rules/maintenance-not-started/enabled",
        ),
        ({"thresholds.b12_deficient_pmol_l": 300}, "thresholds/b12_deficient_pmol_l"),
    ],
)
def test_a_bad_site_policy_is_refused_naming_the_field(
    tmp_path: Path, change: dict[str, object], field: str
) -> None:
    with pytest.raises(PolicyError, match=field):
        load_policy(_site_policy(tmp_path, change))


def test_a_site_can_switch_a_rule_off_and_change_an_indicator(tmp_path: Path) -> None:
    path = _site_policy(
        tmp_path,
        {
            "rules.metformin-b12-check": {"enabled": False},
            "rules.homocysteine-above-target": {"enabled": True, "indicator": "warning"},
        },
    )
    policy = load_policy(path)
    assert not policy.rule_enabled("metformin-b12-check")
    assert policy.indicator_for("homocysteine-above-target", "info") == "warning"


@pytest.mark.parametrize("content", ["not json", "[1, 2]", ""])
def test_unreadable_policy_files_are_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(PolicyError):
        load_policy(path)


def test_a_missing_policy_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="not found"):
        load_policy(tmp_path / "nope.json")


def test_a_site_file_may_extend_a_built_in_and_hold_only_its_changes(tmp_path: Path) -> None:
    path = tmp_path / "site.json"
    path.write_text(
        json.dumps(
            {
                "extends": "seed",
                "name": "site",
                "thresholds": {"homocysteine_target_umol_l": 12},
                "intervals_days": {"maintenance": 61},
            }
        ),
        encoding="utf-8",
    )
    policy, seed = load_policy(path), load_policy()
    assert policy.name == "site"
    assert policy.threshold("homocysteine_target_umol_l") == 12
    assert policy.days("maintenance") == 61
    # everything else is the built-in's, value sets included
    assert policy.threshold("b12_adequate_pmol_l") == seed.threshold("b12_adequate_pmol_l")
    assert policy.days("grace") == seed.days("grace")
    assert policy.value_sets == seed.value_sets


def test_a_site_file_may_extend_another_file_by_relative_path(tmp_path: Path) -> None:
    (tmp_path / "region.json").write_text(
        json.dumps({"extends": "uk-guideline", "name": "region", "intervals_days": {"grace": 7}}),
        encoding="utf-8",
    )
    (tmp_path / "site.json").write_text(
        json.dumps({"extends": "region.json", "name": "site"}), encoding="utf-8"
    )
    policy = load_policy(tmp_path / "site.json")
    assert (policy.name, policy.monitoring_profile, policy.days("grace")) == (
        "site",
        "uk-guideline",
        7,
    )


def test_an_extends_loop_or_a_bad_extends_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps({"extends": "b.json"}), encoding="utf-8")
    (tmp_path / "b.json").write_text(json.dumps({"extends": "a.json"}), encoding="utf-8")
    with pytest.raises(PolicyError, match="extends"):
        load_policy(tmp_path / "a.json")
    (tmp_path / "c.json").write_text(json.dumps({"extends": 3}), encoding="utf-8")
    with pytest.raises(PolicyError, match="extends"):
        load_policy(tmp_path / "c.json")


def test_a_partial_file_without_extends_is_refused_naming_what_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "partial.json"
    path.write_text(json.dumps({"name": "x", "thresholds": {}}), encoding="utf-8")
    with pytest.raises(PolicyError, match="required"):
        load_policy(path)


def test_a_partial_file_without_extends_is_told_how_to_fix_it(tmp_path: Path) -> None:
    path = tmp_path / "partial.json"
    path.write_text(json.dumps({"thresholds": {"homocysteine_target_umol_l": 12}}), "utf-8")
    with pytest.raises(PolicyError, match='must start with "extends": "seed"'):
        load_policy(path)


def test_extending_an_unknown_policy_names_the_built_ins(tmp_path: Path) -> None:
    path = tmp_path / "site.json"
    path.write_text(json.dumps({"extends": "nice"}), encoding="utf-8")
    with pytest.raises(PolicyError, match=r"'nice' is neither a built-in policy \(seed, uk-guid"):
        load_policy(path)


def test_every_policy_field_is_documented_in_the_schema() -> None:
    """The README sends sites to the schema for what each field means."""
    from cds_service.policy import SCHEMA_PATH

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    missing = []

    def walk(node: dict[str, object], path: str) -> None:
        for name, sub in node.get("properties", {}).items():  # type: ignore[attr-defined]
            if "description" not in sub:
                missing.append(f"{path}/{name}")
            walk(sub, f"{path}/{name}")

    walk(schema, "")
    assert not missing, missing
    for block in ("thresholds", "intervals_days", "options", "suppression"):
        assert schema["properties"][block]["additionalProperties"] is False, block
