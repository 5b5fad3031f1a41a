"""The card preview page in a real headless Chromium (Debian's chromium + chromedriver, selenium).

Against the live service with today frozen at 2026-11-25 (the fixtures' "today"): for one
bundled scenario per hook, pick it in the page, press Send, and check what a clinician sees —
one card per rule the scenario's expected.json says fires (with its indicator), markdown detail
rendered (not raw), a suggestion that opens to show its FHIR resource, override reasons, and the
trend chart with its points and injection markers. A screenshot per hook is saved under
`test-artifacts/` (git-ignored). Install the browser with `.ci/install-browser.sh` (`make test` does).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.support.live import REPO, LiveService

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = REPO / "test-artifacts"
FIXTURES = REPO / "fixtures"
WAIT_SECONDS = 15

# One scenario per hook: rules that fire, B12 / homocysteine points and injections in the chart.
CASES = {
    "patient-view": "story-1-fires-loading-done",
    "order-select": "fires-oral-b12-in-pernicious-anaemia",
    "order-sign": "fires-folic-acid-critical-b12-132",
}


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not shutil.which(path):
            pytest.fail(f"{path} is missing: run .ci/install-browser.sh (make test does)")
    os.environ.setdefault("SE_OFFLINE", "true")  # selenium must never try to download a driver
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1400,1900",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(WAIT_SECONDS)
    yield driver
    driver.quit()


def _expected(scenario: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / scenario / "expected.json").read_text())
    return data


def _request(scenario: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / scenario / "request.json").read_text())
    return data


def _open_page(driver: WebDriver, base_url: str) -> None:
    driver.get(f"{base_url}/")
    WebDriverWait(driver, WAIT_SECONDS).until(
        lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "ready"
    )


def _send(driver: WebDriver) -> None:
    driver.execute_script("document.body.dataset.state = 'waiting';")
    driver.find_element(By.ID, "send").click()
    WebDriverWait(driver, WAIT_SECONDS).until(
        lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "done"
    )


def _screenshot(driver: WebDriver, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    assert driver.save_screenshot(str(path)), f"no screenshot written to {path}"
    assert path.stat().st_size > 10_000
    return path


@pytest.mark.parametrize("hook", list(CASES))
def test_a_scenario_per_hook_shows_its_cards_and_the_trend(
    browser: WebDriver, frozen_server: LiveService, hook: str
) -> None:
    scenario = CASES[hook]
    expected = _expected(scenario)
    _open_page(browser, frozen_server.base_url)

    Select(browser.find_element(By.ID, "scenario")).select_by_value(scenario)
    WebDriverWait(browser, WAIT_SECONDS).until(
        lambda d: d.find_element(By.ID, "request-body").get_property("value").strip()
    )
    chosen = Select(browser.find_element(By.ID, "hook")).first_selected_option
    assert chosen.get_attribute("data-hook") == hook
    _send(browser)

    status = browser.find_element(By.ID, "status").text
    assert status.startswith("HTTP 200"), status
    cards = browser.find_elements(By.CSS_SELECTOR, "#cards article.card")
    shown = {c.get_attribute("data-rule-id"): c.get_attribute("data-indicator") for c in cards}
    assert shown == {f["rule"]: f["indicator"] for f in expected["fires"]}
    assert len(cards) == len(expected["fires"])

    card = cards[0]
    indicator = card.get_attribute("data-indicator")
    assert f"indicator-{indicator}" in (card.get_attribute("class") or "")
    assert card.find_element(By.CSS_SELECTOR, ".badge").text.lower() == indicator
    assert card.find_element(By.CSS_SELECTOR, "h3.summary").text
    detail = card.find_element(By.CSS_SELECTOR, ".detail")
    assert detail.find_elements(By.TAG_NAME, "strong"), "markdown bold was not rendered"
    assert detail.find_elements(By.TAG_NAME, "li"), "markdown list was not rendered"
    assert "**" not in detail.text
    source_link = card.find_element(By.CSS_SELECTOR, ".source a")
    assert (source_link.get_attribute("href") or "").startswith("https://")
    assert card.find_elements(By.CSS_SELECTOR, ".override-reasons li")

    suggestion = card.find_element(By.CSS_SELECTOR, "button.suggestion")
    actions = card.find_element(By.CSS_SELECTOR, ".actions")
    assert not actions.is_displayed()
    suggestion.click()
    assert actions.is_displayed()
    shown_actions = actions.text.lower()
    assert any(kind in shown_actions for kind in ("create", "update", "delete"))
    assert "resourcetype" in shown_actions or "/" in shown_actions

    trend = requests.post(
        f"{frozen_server.base_url}/demo/trend", json=_request(scenario), timeout=10
    )
    assert trend.status_code == 200
    series = trend.json()
    svg = browser.find_element(By.CSS_SELECTOR, "#chart svg.trend")
    assert svg.is_displayed()
    b12_points = svg.find_elements(By.CSS_SELECTOR, "[data-series='b12'] circle.point")
    hcy_points = svg.find_elements(By.CSS_SELECTOR, "[data-series='homocysteine'] circle.point")
    injections = svg.find_elements(By.CSS_SELECTOR, "g.injection")
    assert len(b12_points) == len(series["b12"])
    assert len(hcy_points) == len(series["homocysteine"])
    assert len(injections) == len(series["injections"])
    assert len(b12_points) + len(hcy_points) + len(injections) > 0
    assert len(svg.find_elements(By.CSS_SELECTOR, "g.target")) == 3  # adequate, deficient, target
    assert svg.find_element(By.CSS_SELECTOR, "g.today").text == "today 2026-11-25"

    path = _screenshot(browser, f"preview-{hook}.png")
    print(f"screenshot: {path}")


def test_card_text_from_the_request_is_never_markup(
    browser: WebDriver, frozen_server: LiveService
) -> None:
    """A medication name carrying HTML reaches the card detail as text, and no script runs."""
    payload = "<img src=x onerror=window.__pwned=1><script>window.__pwned=2</script>"
    body = _request("fires-injection-overdue-106-days")
    text = json.dumps(body).replace("hydroxocobalamin 1 MG/ML Injectable Solution", payload)
    assert payload in text
    _open_page(browser, frozen_server.base_url)
    area = browser.find_element(By.ID, "request-body")
    browser.execute_script("arguments[0].value = arguments[1];", area, text)
    Select(browser.find_element(By.ID, "hook")).select_by_visible_text(
        next(
            o.text
            for o in Select(browser.find_element(By.ID, "hook")).options
            if o.get_attribute("data-hook") == "patient-view"
        )
    )
    _send(browser)

    cards = browser.find_elements(By.CSS_SELECTOR, "#cards article.card")
    assert [c.get_attribute("data-rule-id") for c in cards] == ["maintenance-injection-overdue"]
    assert "<img src=x" in cards[0].find_element(By.CSS_SELECTOR, ".detail").text
    assert not browser.find_elements(By.CSS_SELECTOR, "#cards img, #cards script")
    assert browser.execute_script("return window.__pwned === undefined;")


def test_a_pasted_request_for_the_wrong_hook_shows_the_services_reason(
    browser: WebDriver, frozen_server: LiveService
) -> None:
    _open_page(browser, frozen_server.base_url)
    area = browser.find_element(By.ID, "request-body")
    body = json.dumps(_request(CASES["patient-view"]))
    browser.execute_script("arguments[0].value = arguments[1];", area, body)
    hook = Select(browser.find_element(By.ID, "hook"))
    order_sign = next(o for o in hook.options if o.get_attribute("data-hook") == "order-sign")
    hook.select_by_value(order_sign.get_attribute("value") or "")
    _send(browser)
    status = browser.find_element(By.ID, "status")
    assert status.text.startswith("HTTP 400")
    assert "patient-view" in status.text
    assert not browser.find_elements(By.CSS_SELECTOR, "#cards article.card")
