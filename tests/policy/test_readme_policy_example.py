"""The README's worked policy example does what the README says, through the real command
(`B12CDS_POLICY=... b12-cds evaluate --today`): a 12 umol/L homocysteine target and
2-monthly injections for everyone, everything else as the built-in `seed`."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.live import REPO, b12_cds, service_env

TODAY = "2026-11-25"  # the fixtures' date


def _example() -> dict[str, Any]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- policy-example -->\s*```json\n(.*?)```", readme, re.S)
    assert block, "the README lost its worked policy example"
    example: dict[str, Any] = json.loads(block.group(1))
    return example


def _cards(fixture: str, policy: Path | None) -> list[tuple[str, str, str, list[str]]]:
    env = {"B12CDS_POLICY": str(policy)} if policy else {}
    done = subprocess.run(
        [
            b12_cds(),
            "evaluate",
            str(REPO / "fixtures" / fixture / "request.json"),
            "--today",
            TODAY,
        ],
        env=service_env(env),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [
        (
            c["source"]["topic"]["code"],
            c["indicator"],
            c["summary"],
            [s["label"] for s in c.get("suggestions", [])],
        )
        for c in json.loads(done.stdout)["cards"]
    ]


@pytest.fixture(scope="module")
def site_policy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("policy") / "site.json"
    path.write_text(json.dumps(_example()), encoding="utf-8")
    return path


def test_the_example_is_a_partial_file_on_top_of_seed() -> None:
    example = _example()
    assert example["extends"] == "seed"
    assert example["thresholds"] == {"homocysteine_target_umol_l": 12}


def test_a_3_monthly_order_is_too_long_and_8_weeks_is_offered(site_policy: Path) -> None:
    assert _cards("silent-interval-3-months", None) == []
    [(rule, indicator, summary, labels)] = _cards("silent-interval-3-months", site_policy)
    assert (rule, indicator) == ("maintenance-interval-too-long", "warning")
    assert summary.endswith("longer than the maximum of every 2 months")
    assert labels == ["Change to every 8 weeks"]


def test_an_injection_105_days_ago_is_overdue(site_policy: Path) -> None:
    assert _cards("silent-injection-due-105-days", None) == []
    [(rule, indicator, _, labels)] = _cards("silent-injection-due-105-days", site_policy)
    assert (rule, indicator) == ("maintenance-injection-overdue", "warning")
    assert "Order hydroxocobalamin 1 mg IM every 2 months" in labels


def test_homocysteine_10_is_below_a_12_target(site_policy: Path) -> None:
    assert [c[0] for c in _cards("fires-homocysteine-at-target-10", None)] == [
        "homocysteine-above-target"
    ]
    assert _cards("fires-homocysteine-at-target-10", site_policy) == []


def test_a_bad_site_file_stops_start_up_naming_the_field(tmp_path: Path) -> None:
    bad = {**_example(), "thresholds": {"homocysteine_target_umol_l": "12"}}
    (tmp_path / "bad.json").write_text(json.dumps(bad), encoding="utf-8")
    done = subprocess.run(
        [b12_cds(), "serve", "--no-auth", "--port", "0"],
        env=service_env({"B12CDS_POLICY": str(tmp_path / "bad.json")}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "policy field thresholds/homocysteine_target_umol_l" in done.stderr
