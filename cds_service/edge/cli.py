"""The `b12-cds` command: `serve` the service, `evaluate` one request offline, or `report`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from cds_service.policy import PolicyError, load_policy
from cds_service.population import worklist
from cds_service.protocol.catalog import CatalogError, load_catalog
from cds_service.protocol.errors import ClientError, ServiceError
from cds_service.protocol.request import decode_json, hook_request_from
from cds_service.settings import Settings, SettingsError
from cds_service.store import StoreError

USAGE_ERROR = 2


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    if args.command == "report":
        return _report(args)
    if args.command == "worklist":
        return worklist.command(args)
    return _evaluate(Path(args.request), args.today)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="b12-cds", description="CDS Hooks 2.0 service for vitamin B12 deficiency care."
    )
    parser.add_argument("--version", action="version", version=f"b12-cds {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the service on a production WSGI server")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8080; 0 picks a free one)")
    serve.add_argument("--workers", type=int, help="worker processes (default 2)")
    serve.add_argument(
        "--no-auth",
        action="store_true",
        help="accept hook calls without a client JWT (loopback addresses only)",
    )
    evaluate = sub.add_parser("evaluate", help="answer one CDS Hooks request file offline")
    evaluate.add_argument("request", metavar="REQUEST.json")
    evaluate.add_argument(
        "--today",
        metavar="YYYY-MM-DD",
        help="evaluate as of this date (default: today, UTC); the bundled fixtures are "
        "written for 2026-11-25",
    )
    report = sub.add_parser(
        "report", help="per rule: cards issued, accepted, overridden (by reason), acceptance rate"
    )
    report.add_argument("--since", metavar="DATE", help="only cards issued from DATE (YYYY-MM-DD)")
    report.add_argument("--json", action="store_true", help="print JSON instead of a table")
    worklist.add_parser(sub)
    return parser


def _fail(message: str) -> int:
    one_line = " ".join(message.split())
    sys.stderr.write(f"b12-cds: {one_line}\n")
    return USAGE_ERROR


def _serve(args: argparse.Namespace) -> int:
    from cds_service.edge.app import create_app
    from cds_service.edge.server import serve

    overrides: dict[str, Any] = {"host": args.host, "port": args.port, "workers": args.workers}
    if args.no_auth:
        overrides["auth"] = "none"
    try:
        settings = Settings.from_env(os.environ, **overrides)
        app = create_app(settings)
    except (SettingsError, PolicyError, CatalogError, StoreError) as exc:
        return _fail(f"cannot start: {exc}")
    return serve(app, settings)


def _report(args: argparse.Namespace) -> int:
    from cds_service.store import open_store
    from cds_service.store.report import build_report, parse_since, render_json, render_table

    try:
        since = parse_since(args.since) if args.since else None
    except ValueError:
        return _fail(f"report: --since {args.since!r} is not a date such as 2026-01-31")
    try:
        settings = Settings.from_env(os.environ)
        store = open_store(settings.database_url)
    except (SettingsError, StoreError) as exc:
        return _fail(f"report: {exc}")
    try:
        report = build_report(store, since)
    finally:
        store.dispose()
    sys.stdout.write(render_json(report) if args.json else render_table(report))
    return 0


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("b12-cds")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def _evaluate(path: Path, today: str | None = None) -> int:
    from cds_service.edge.evaluation import Evaluator, utc_today

    clock = utc_today
    if today is not None:
        try:
            fixed = date.fromisoformat(today)
        except ValueError:
            return _fail(f"evaluate: --today {today!r} is not a date such as 2026-11-25")
        clock = lambda: fixed  # noqa: E731  # the clock the evaluator asks

    try:
        settings = Settings.from_env(os.environ)
        catalog = load_catalog()
        policy = load_policy(settings.policy)
    except (SettingsError, PolicyError, CatalogError) as exc:
        return _fail(f"cannot start: {exc}")
    try:
        body = path.read_bytes()
    except OSError as exc:
        return _fail(f"evaluate: cannot read {path}: {exc.strerror}")
    try:
        every_lab_key = frozenset().union(*(s.observation_keys for s in catalog.services))
        data = decode_json(body, observation_keys=every_lab_key)
        if not isinstance(data, dict):
            raise ClientError("request body must be a JSON object")
        hook = data.get("hook")
        if not isinstance(hook, str):
            raise ClientError("request field /hook: missing or not a string")
        service = catalog.service_for_hook(hook)
        if service is None:
            raise ClientError(f"request field /hook: no service answers {hook!r}")
        request = hook_request_from(data, service, catalog)
        # offline: prefetch is the only data source, whatever fhirServer says
        request = replace(request, fhir_server=None, fhir_authorization=None)
        result = Evaluator(catalog, policy, settings, clock).evaluate(service, request)
    except ClientError as exc:
        return _fail(f"evaluate: {exc.diagnostics}")
    except ServiceError as exc:
        _fail(f"evaluate: {exc.diagnostics}")
        return 1
    sys.stdout.write(json.dumps(result.response, indent=2, ensure_ascii=False) + "\n")
    return 0
