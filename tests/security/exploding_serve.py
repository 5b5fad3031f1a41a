"""Test-only entry: the real gunicorn server (frozen today, like frozen_serve) with the named
rules made to raise, as a rule would on data it never expected.

`python -m tests.security.exploding_serve --explode RULE_ID [--explode ...] [--port N]`
"""

from __future__ import annotations

import argparse
import os
import sys

from cds_service.edge.app import create_app
from cds_service.edge.server import serve
from cds_service.rules import RULES
from cds_service.rules.base import Finding, RuleInput
from cds_service.settings import Settings
from tests.support.frozen_serve import FROZEN_TODAY


def _explode(inp: RuleInput) -> Finding | None:
    raise ZeroDivisionError("a rule met data it never expected")


def main() -> int:
    parser = argparse.ArgumentParser(prog="exploding_serve")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--explode", action="append", default=[])
    args = parser.parse_args()
    for rule in RULES:
        if rule.RULE_ID in args.explode:
            rule.evaluate = _explode
    settings = Settings.from_env(os.environ, auth="none", port=args.port, workers=1)
    app = create_app(settings, clock=lambda: FROZEN_TODAY)
    return serve(app, settings)


if __name__ == "__main__":
    sys.exit(main())
