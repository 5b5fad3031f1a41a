"""The `b12-cds` command as a user runs it: evaluate offline, and refusals at start-up."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.hook_calls import hook_request, medication_request
from tests.support.live import b12_cds, service_env, start_b12_cds
from tests.support.schemas import assert_valid_response


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [b12_cds(), *args],
        capture_output=True,
        text=True,
        env=service_env(env),
        timeout=60,
        check=False,
    )


def write(tmp_path: Path, body: Any) -> Path:
    path = tmp_path / "request.json"
    path.write_text(body if isinstance(body, str) else json.dumps(body), encoding="utf-8")
    return path


@pytest.mark.parametrize("hook", ["patient-view", "order-select", "order-sign"])
def test_evaluate_prints_the_response(tmp_path: Path, hook: str) -> None:
    drafts = [medication_request(text="hydroxocobalamin 1 MG/ML Injectable Solution")]
    result = run("evaluate", str(write(tmp_path, hook_request(hook, drafts=drafts))))
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert_valid_response(body)


def test_evaluate_ignores_fhir_server_offline(tmp_path: Path) -> None:
    """Offline means prefetch only: a missing key is reported, nothing is fetched."""
    body = hook_request()
    del body["prefetch"]["labs"]
    body["fhirServer"] = "https://ehr.invalid/fhir"
    result = run("evaluate", str(write(tmp_path, body)))
    assert result.returncode == 2
    assert "'labs'" in result.stderr


@pytest.mark.parametrize(
    ("case", "content", "reason"),
    [
        ("not JSON", "{oops", "not valid JSON"),
        ("unknown hook", json.dumps({**hook_request(), "hook": "encounter-start"}), "no service"),
        ("missing context", json.dumps({"hook": "patient-view", "hookInstance": "x"}), "context"),
        ("no prefetch", json.dumps(hook_request(with_prefetch=False)), "prefetch"),
    ],
)
def test_evaluate_bad_input_exits_2_with_one_line(
    tmp_path: Path, case: str, content: str, reason: str
) -> None:
    result = run("evaluate", str(write(tmp_path, content)))
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert reason in result.stderr


def test_evaluate_missing_file_exits_2(tmp_path: Path) -> None:
    result = run("evaluate", str(tmp_path / "absent.json"))
    assert result.returncode == 2
    assert "absent.json" in result.stderr


def test_no_auth_is_refused_off_loopback() -> None:
    result = run("serve", "--no-auth", "--host", "192.0.2.10", "--port", "0")
    assert result.returncode != 0
    assert "loopback" in result.stderr


def test_bad_policy_stops_start_up_with_a_clear_message(tmp_path: Path) -> None:
    policy = tmp_path / "policy.json"
    policy.write_text('{"name": "site"}', encoding="utf-8")
    result = run("serve", "--no-auth", "--port", "0", env={"B12CDS_POLICY": str(policy)})
    assert result.returncode != 0
    assert "policy" in result.stderr
    assert "Serving on" not in result.stdout


def test_bad_setting_stops_start_up_naming_the_variable() -> None:
    result = run("serve", "--port", "0", env={"B12CDS_MAX_BODY_BYTES": "lots"})
    assert result.returncode != 0
    assert "B12CDS_MAX_BODY_BYTES" in result.stderr


def test_sigterm_stops_the_server_gracefully() -> None:
    service = start_b12_cds("--no-auth", "--workers", "1")
    assert service.stop() == 0
    assert "Shutting down" in service.log_text()


def test_version_names_the_installed_package() -> None:
    from importlib.metadata import version

    result = run("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"b12-cds {version('b12-cds')}"


FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


@pytest.mark.parametrize(
    "name", ["story-3-fires-injection-overdue", "fires-folic-acid-critical-deficiency-known"]
)
def test_evaluate_today_gives_the_fixtures_their_named_answers_on_any_date(name: str) -> None:
    """The fixtures are written for 2026-11-25; --today makes their answers hold on any day."""
    expected = json.loads((FIXTURES / name / "expected.json").read_text(encoding="utf-8"))
    result = run("evaluate", "--today", "2026-11-25", str(FIXTURES / name / "request.json"))
    assert result.returncode == 0, result.stderr
    spoken = {
        c["source"]["topic"]["code"]: c["indicator"] for c in json.loads(result.stdout)["cards"]
    }
    assert spoken == {f["rule"]: f["indicator"] for f in expected["fires"]}
    later = run("evaluate", "--today", "2027-06-01", str(FIXTURES / name / "request.json"))
    assert later.returncode == 0 and later.stdout != result.stdout  # the date is really used


def test_evaluate_refuses_a_bad_today(tmp_path: Path) -> None:
    result = run("evaluate", "--today", "25/11/2026", str(write(tmp_path, hook_request())))
    assert result.returncode == 2 and "--today" in result.stderr


def test_report_and_serve_share_the_default_database_wherever_they_start(tmp_path: Path) -> None:
    """No B12CDS_DATABASE_URL: the SQLite file is in the data directory, not the cwd."""
    data = tmp_path / "data"
    env = {"B12CDS_DATA_DIR": str(data)}
    for cwd in (tmp_path, FIXTURES):
        result = subprocess.run(
            [b12_cds(), "report", "--json"],
            capture_output=True,
            text=True,
            env=service_env(env),
            timeout=60,
            check=False,
            cwd=cwd,
        )
        assert result.returncode == 0, result.stderr
    assert (data / "b12cds.sqlite3").exists()
    assert not (tmp_path / "b12cds.sqlite3").exists() and not (FIXTURES / "b12cds.sqlite3").exists()
