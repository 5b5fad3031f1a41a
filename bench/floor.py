"""The HTTP floor: a bare Flask app on the service's own gunicorn machinery.

`python -m bench.floor --port 0 --workers 2` serves `POST /cds-services/<id>` that parses
the body (orjson, as the service does) and answers `{"cards": []}`: no validation, no
logging, no evaluation. It runs through `cds_service.edge.server.serve`, so the server
(gunicorn's asyncio worker with the buffering front, `edge/front.py`), threads per worker,
keep-alive, limits and preloading are the service's own;
only the service's glibc allocator settings are left out (they bound a worker's RSS and
cost the bare app about 5% at N=2000), so the floor stays the fastest the machine does.
"""

from __future__ import annotations

import argparse
import os
import sys

import orjson
from flask import Flask, Response, request

from cds_service.edge import server
from cds_service.settings import Settings

EMPTY = orjson.dumps({"cards": []})


def create_floor_app() -> Flask:
    app = Flask("bench_floor")

    @app.post("/cds-services/<service_id>")
    def hook_call(service_id: str) -> Response:
        orjson.loads(request.get_data(cache=False))
        return Response(EMPTY, status=200, mimetype="application/json")

    return app


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench.floor")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    settings = Settings.from_env(
        os.environ, auth="none", port=args.port, workers=args.workers, log_level="WARNING"
    )
    server._tune_allocator = lambda: None  # glibc's own defaults: see the module docstring
    return server.serve(create_floor_app(), settings)


if __name__ == "__main__":
    sys.exit(main())
