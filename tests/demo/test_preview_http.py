"""The preview page's routes over real HTTP: on only in demo mode without auth, read-only helpers.

The browser test (tests/browser) checks what the page shows; this checks what the server
promises: 404 everywhere when the demo is off, the scenario list and files as bundled, the
trend series exactly as the record reader sees the request, and markdown that never lets
card text become markup.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.support.live import REPO, LiveService, start_b12_cds

FIXTURES = REPO / "fixtures"
SCENARIOS = sorted(p.parent.name for p in FIXTURES.glob("*/request.json"))
DEMO_PATHS = ("/", "/demo/static/preview.js", "/demo/static/preview.css", "/static/preview.js")


@pytest.fixture(scope="module")
def demo_off_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[LiveService]]:
    """Demo off with --no-auth, and demo asked for but client JWT auth on (no page either)."""
    folder = tmp_path_factory.mktemp("demo-off")
    database = {"B12CDS_DATABASE_URL": f"sqlite:///{folder}/b12cds.sqlite3"}
    servers = [
        start_b12_cds("--no-auth", env={**database, "B12CDS_DEMO": "0"}),
        start_b12_cds(env={**database, "B12CDS_DEMO": "1"}),
    ]
    yield servers
    for server in servers:
        server.stop()


def _request(name: str) -> dict[str, object]:
    data: dict[str, object] = json.loads((FIXTURES / name / "request.json").read_text())
    return data


def test_everything_is_404_unless_demo_mode_without_auth(
    demo_off_servers: list[LiveService],
) -> None:
    for server in demo_off_servers:
        for path in DEMO_PATHS:
            assert requests.get(server.base_url + path, timeout=10).status_code == 404, path
        scenario = requests.get(f"{server.base_url}/demo/scenarios/{SCENARIOS[0]}", timeout=10)
        assert scenario.status_code == 404
        trend = requests.post(
            f"{server.base_url}/demo/trend", json=_request(SCENARIOS[0]), timeout=10
        )
        assert trend.status_code == 404
        markdown = requests.post(f"{server.base_url}/demo/markdown", json={"texts": []}, timeout=10)
        assert markdown.status_code == 404
        # a wrong method was a 405 (with Allow), which told that the route exists
        for method, path in [
            ("GET", "/demo/markdown"),
            ("PUT", "/demo/trend"),
            ("DELETE", "/"),
            ("POST", f"/demo/scenarios/{SCENARIOS[0]}"),
            ("POST", "/demo/static/preview.js"),
        ]:
            answer = requests.request(method, server.base_url + path, timeout=10)
            assert answer.status_code == 404, (method, path, answer.status_code)
            assert "Allow" not in answer.headers
            assert answer.json()["resourceType"] == "OperationOutcome"
        assert requests.get(f"{server.base_url}/healthz", timeout=10).status_code == 200


def test_the_page_lists_every_bundled_scenario_under_its_hook(frozen_server: LiveService) -> None:
    page = requests.get(f"{frozen_server.base_url}/", timeout=10)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    for name in SCENARIOS:
        hook = _request(name)["hook"]
        assert f'value="{name}" data-hook="{hook}"' in page.text, name
    for hook in ("patient-view", "order-select", "order-sign"):
        assert f'data-hook="{hook}"' in page.text
    js = requests.get(f"{frozen_server.base_url}/demo/static/preview.js", timeout=10)
    assert js.status_code == 200
    assert "innerHTML" in js.text and "textContent" in js.text


def test_a_scenario_is_served_byte_for_byte_and_nothing_else(frozen_server: LiveService) -> None:
    name = "story-1-fires-loading-done"
    answer = requests.get(f"{frozen_server.base_url}/demo/scenarios/{name}", timeout=10)
    assert answer.status_code == 200
    assert answer.content == (FIXTURES / name / "request.json").read_bytes()
    for bad in ("no-such-scenario", "..%2Fpyproject.toml", "README.md", "generate.py"):
        assert (
            requests.get(f"{frozen_server.base_url}/demo/scenarios/{bad}", timeout=10).status_code
            == 404
        )


def test_trend_series_come_from_the_request_alone(frozen_server: LiveService) -> None:
    answer = requests.post(
        f"{frozen_server.base_url}/demo/trend",
        json=_request("story-1-fires-loading-done"),
        timeout=10,
    )
    assert answer.status_code == 200
    trend = answer.json()
    assert trend["today"] == "2026-11-25"  # the service's own clock (frozen here)
    assert [(p["date"], p["value"]) for p in trend["b12"]] == [
        ("2026-09-26", 110),
        ("2026-11-22", 453),
    ]
    assert [(p["date"], p["value"]) for p in trend["homocysteine"]] == [("2026-11-22", 9.2)]
    assert trend["injections"] == ["2026-10-28", "2026-11-04", "2026-11-11", "2026-11-18"]
    assert trend["targets"] == {"b12": 258, "homocysteine": 10}
    svg = trend["svg"]
    assert svg.startswith("<svg") and svg.count('class="point"') == 3
    assert svg.count('class="injection"') == 4


def test_trend_without_results_has_no_chart_and_bad_bodies_are_400(
    frozen_server: LiveService,
) -> None:
    url = f"{frozen_server.base_url}/demo/trend"
    empty = requests.post(url, json={"context": {"patientId": "p1"}, "prefetch": {}}, timeout=10)
    assert empty.status_code == 200
    assert empty.json()["svg"] is None and empty.json()["b12"] == []
    for body in (b"not json", b"[]", b'{"context": {}}', b'{"context": {"patientId": 7}}'):
        bad = requests.post(
            url, data=body, headers={"Content-Type": "application/json"}, timeout=10
        )
        assert bad.status_code == 400, body
        assert bad.json()["resourceType"] == "OperationOutcome"


def test_markdown_renders_formatting_but_never_markup_or_script_links(
    frozen_server: LiveService,
) -> None:
    url = f"{frozen_server.base_url}/demo/markdown"
    texts = [
        "**Evidence**\n\n- B12 110 pmol/L on 2026-09-26",
        '<img src=x onerror="alert(1)"> <script>alert(2)</script>',
        "[guideline](https://cks.nice.org.uk/) [bad](javascript:alert(3))",
    ]
    answer = requests.post(url, json={"texts": texts}, timeout=10)
    assert answer.status_code == 200
    first, second, third = answer.json()["html"]
    assert "<strong>Evidence</strong>" in first and "<li>B12 110 pmol/L" in first
    assert "<img" not in second and "<script" not in second
    assert "&lt;img" in second and "&lt;script&gt;" in second
    assert '<a href="https://cks.nice.org.uk/">guideline</a>' in third
    assert "javascript:" not in third.split("[bad]")[0] and 'href="javascript' not in third
    for body in ({"texts": "x"}, {"texts": [1]}, {"texts": ["x"] * 101}, {}):
        assert requests.post(url, json=body, timeout=10).status_code == 400


def test_fixture_folder_is_where_the_app_looks() -> None:
    from cds_service.demo.preview import fixtures_dir, scenarios

    assert fixtures_dir() == FIXTURES or fixtures_dir().name == "_fixtures"
    assert sorted(scenarios()) == SCENARIOS
    assert Path(fixtures_dir()).is_dir()
