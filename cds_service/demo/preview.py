"""The card preview page (`GET /`): bundled synthetic scenarios, sent to the service's own hooks.

Served only in demo mode without client auth (`B12CDS_DEMO`, on by default with
`--no-auth` on loopback); otherwise every route here is a 404, so production shows
nothing. The page calls `POST /cds-services/{id}` like an EHR would, then asks two
read-only helpers here: `/demo/markdown` (card detail rendered by markdown-it with raw
HTML disabled, so card text can never inject markup) and `/demo/trend` (the chart,
computed from the request body alone: this blueprint never fetches patient data).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Protocol

import orjson
from flask import Blueprint, Response, abort, current_app, render_template, request

from cds_service.demo.trend import build_trend, render_svg, resources_of
from cds_service.policy import Policy
from cds_service.protocol.catalog import Catalog
from cds_service.protocol.errors import BadRequest, NotFound
from cds_service.protocol.limits import check_shape
from cds_service.protocol.request import decode_json
from cds_service.settings import Settings

bp = Blueprint(
    "demo",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/demo/static",
)

# The page's own scripts and styles only; hook calls go to this same origin.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
MAX_MARKDOWN_TEXTS = 100


class _Evaluator(Protocol):
    policy: Policy
    clock: Callable[[], date]


class _Service(Protocol):
    """What the page reads of the running service (the edge's Runtime), by shape only:
    the demo sits beside the edge and never imports it."""

    settings: Settings
    catalog: Catalog
    evaluator: _Evaluator


def runtime() -> _Service:
    rt: _Service = current_app.extensions["b12cds"]
    return rt


def json_response(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status=status, mimetype="application/json")


@cache
def _markdown() -> Any:
    """The renderer, made on the preview page's first use (not on every service start-up)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "linkify": False})


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    hook: str
    description: str


def demo_enabled(settings: Settings) -> bool:
    """Demo mode, and hook calls need no JWT (the page has none to send)."""
    return settings.demo and not settings.auth_required


def fixtures_dir() -> Path:
    """`cds_service/_fixtures` in an installed wheel, else the repository's `fixtures/`."""
    packaged = Path(__file__).resolve().parents[1] / "_fixtures"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "fixtures"


@lru_cache(maxsize=1)
def scenarios() -> dict[str, Scenario]:
    """Every bundled scenario by folder name; a broken folder is skipped, not fatal."""
    found: dict[str, Scenario] = {}
    root = fixtures_dir()
    if not root.is_dir():
        return found
    for folder in sorted(p for p in root.iterdir() if (p / "request.json").is_file()):
        try:
            body = json.loads((folder / "request.json").read_text(encoding="utf-8"))
            expected_file = folder / "expected.json"
            expected = (
                json.loads(expected_file.read_text(encoding="utf-8"))
                if expected_file.is_file()
                else {}
            )
        except (OSError, ValueError):
            continue
        hook = body.get("hook") if isinstance(body, dict) else None
        if isinstance(hook, str):
            found[folder.name] = Scenario(folder.name, hook, str(expected.get("description", "")))
    return found


@bp.before_request
def only_in_demo_mode() -> None:
    if not demo_enabled(runtime().settings):
        raise NotFound("no such page; the preview is served only in demo mode")


@bp.get("/")
def index() -> Response:
    rt = runtime()
    by_hook: dict[str, list[Scenario]] = {s.hook: [] for s in rt.catalog.services}
    for scenario in scenarios().values():
        by_hook.setdefault(scenario.hook, []).append(scenario)
    html = render_template(
        "preview.html",
        services=rt.catalog.services,
        by_hook=by_hook,
        policy_name=rt.evaluator.policy.name,
    )
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = PAGE_CSP
    return response


@bp.get("/demo/scenarios/<name>")
def scenario_request(name: str) -> Response:
    if name not in scenarios():  # only listed folder names: no path ever comes from the URL
        raise NotFound(f"no bundled scenario named {name[:100]!r}")
    body = (fixtures_dir() / name / "request.json").read_bytes()
    return Response(body, mimetype="application/json")


@bp.post("/demo/markdown")
def markdown() -> Response:
    """Card details as HTML: CommonMark with raw HTML off and unsafe link schemes refused."""
    body = _json_body("markdown")
    texts = body.get("texts")
    if (
        not isinstance(texts, list)
        or len(texts) > MAX_MARKDOWN_TEXTS
        or not all(isinstance(t, str) for t in texts)
    ):
        raise BadRequest(f"field /texts: expected up to {MAX_MARKDOWN_TEXTS} strings")
    return json_response({"html": [_markdown().render(t) for t in texts]})


@bp.post("/demo/trend")
def trend() -> Response:
    """B12 and homocysteine series (+ SVG) from a CDS Hooks request's prefetch only."""
    body = _json_body("request")
    context = body.get("context")
    patient_id = context.get("patientId") if isinstance(context, dict) else None
    if not isinstance(patient_id, str) or not patient_id:
        raise BadRequest("request field /context/patientId: missing or not a string")
    rt = runtime()
    series = build_trend(patient_id, resources_of(body), rt.evaluator.policy, rt.evaluator.clock())
    answer = series.as_json()
    answer["svg"] = None if series.empty else render_svg(series)
    return json_response(answer)


def _json_body(what: str) -> dict[str, Any]:
    length = request.content_length
    limit = runtime().settings.max_body_bytes
    if length is not None and length > limit:
        abort(413)
    data = decode_json(request.get_data(cache=False), what)
    check_shape(data, what)
    if not isinstance(data, dict):
        raise BadRequest(f"{what} body must be a JSON object")
    return data
