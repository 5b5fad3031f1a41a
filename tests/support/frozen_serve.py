"""Test-only entry: the real gunicorn server with a frozen clock (today = 2026-11-25).

`python -m tests.support.frozen_serve [--port N] [--auth jwt]` serves with `--no-auth`
semantics on 127.0.0.1, or (`--auth jwt`) checks client JWTs against B12CDS_TRUSTED_CLIENTS
like `b12-cds serve`. The date goes in through `create_app(clock=...)`, never an env
variable, so the production entry point has no way to fake the date.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date

from cds_service.edge.app import create_app
from cds_service.edge.server import serve
from cds_service.settings import Settings

FROZEN_TODAY = date(2026, 11, 25)


def main() -> int:
    parser = argparse.ArgumentParser(prog="frozen_serve")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--auth", choices=("none", "jwt"), default="none")
    args = parser.parse_args()
    settings = Settings.from_env(os.environ, auth=args.auth, port=args.port, workers=args.workers)
    app = create_app(settings, clock=lambda: FROZEN_TODAY)
    return serve(app, settings)


if __name__ == "__main__":
    sys.exit(main())
