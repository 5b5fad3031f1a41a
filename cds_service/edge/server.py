"""The production server: gunicorn's asyncio worker in front of the Flask app, driven from Python.

The app is built before gunicorn starts (the same as `preload_app`), so a bad setting,
policy or hook file stops start-up with one clear message and a non-zero exit, and
workers fork with everything already loaded. When the socket listens, one line
`Serving on http://HOST:PORT` is printed and flushed (with the real port when 0 was
asked for). SIGTERM stops gracefully: running calls finish, then the workers exit.
The database schema was migrated by `create_app`, so before any worker forks; the
Prometheus multiprocess directory is set up here, also before the fork.

Each worker reads requests in an event loop and runs the app on a few threads only
once a request is complete (`edge/front.py`, `edge/worker.py`): a slow or stalled
client holds no thread. gthread, the worker used before, gave each connection a
thread that read the request from the socket itself, so 16 clients sending their
headers slowly froze the service.
"""

from __future__ import annotations

import ctypes
import gc
import sys
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from cds_service.edge import metrics
from cds_service.edge.front import BufferedWsgi
from cds_service.edge.logs import logging_config
from cds_service.settings import APP_THREADS_PER_WORKER, Settings

THREADS_PER_WORKER = APP_THREADS_PER_WORKER
GRACEFUL_SECONDS = 10
WORKER_CLASS = "cds_service.edge.worker.Worker"
# Request-head limits: a 16,384-character client JWT (README) fits in one header line
# with room to spare; past these gunicorn answers 414/431 (an OperationOutcome).
LIMIT_REQUEST_LINE = 16_384
LIMIT_REQUEST_FIELD_SIZE = 20_480
LIMIT_REQUEST_FIELDS = 64
WORKER_CONNECTIONS = 1000
# glibc mallopt parameters and the values the workers run with (see `_tune_allocator`)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
MALLOPT_SETTINGS = (
    (M_MMAP_THRESHOLD, 4 * 1024 * 1024),
    (M_TRIM_THRESHOLD, 16 * 1024 * 1024),
    (M_ARENA_MAX, 1),
)


class _Gunicorn(BaseApplication):  # type: ignore[misc]  # gunicorn ships no types
    def __init__(self, app: BufferedWsgi, options: dict[str, Any]) -> None:
        self._app = app
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            if key in self.cfg.settings:  # older gunicorn lacks some settings
                self.cfg.set(key, value)

    def load(self) -> BufferedWsgi:
        return self._app


def bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _announce(host: str, app: Flask) -> Any:
    def when_ready(server: Any) -> None:
        port = server.LISTENERS[0].sock.getsockname()[1]
        # before the workers fork: they inherit the port a token's aud may name
        auth = app.extensions.get("b12cds.auth")
        if auth is not None:
            auth.audience.listening_on(port)
        sys.stdout.write(f"Serving on http://{bind_address(host, port)}\n")
        sys.stdout.flush()

    return when_ready


def _tune_allocator() -> None:
    """Keep a hook call's buffers in the heap, and the heap one bounded size.

    A call reads and parses a body of up to a few MB. Handed back to the OS after every
    call (a small mmap or trim threshold), the same pages are faulted in again on the next
    one: N=2000 bodies took about a quarter longer. Left to glibc's defaults, every thread
    keeps an arena of its own and the thresholds grow with the largest body seen, so RSS
    drifts up. Fixed instead: bodies up to 4 MB come from the heap, up to 16 MB of free
    heap is kept for the next call, and one arena serves the worker's threads (they hold
    the GIL while they allocate, so they hardly ever wait for it). Measured in the
    benchmark's RSS column. A no-op where mallopt is missing (not glibc).
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    for parameter, value in MALLOPT_SETTINGS:
        mallopt(parameter, value)


def serve(app: Flask, settings: Settings) -> int:
    """Run `app` until SIGTERM/SIGINT; returns the exit status."""
    metrics.enable_multiprocess()  # before the fork: every worker writes its own files
    _tune_allocator()  # before the fork: the workers inherit the settings
    # Everything loaded so far (app, catalog, policy, FHIR models) lives as long as the
    # process: out of the collector's sight, a full collection while a big body is being
    # parsed no longer walks it, and the workers' copies of those pages stay shared.
    gc.collect()
    gc.freeze()
    front = BufferedWsgi(
        app,
        threads=THREADS_PER_WORKER,
        max_body_bytes=settings.max_body_bytes,
        header_timeout=settings.header_timeout,
        body_timeout=settings.body_timeout,
    )
    options: dict[str, Any] = {
        "bind": bind_address(settings.host, settings.port),
        "workers": settings.workers,
        "worker_class": WORKER_CLASS,
        "worker_connections": WORKER_CONNECTIONS,
        "preload_app": True,
        "graceful_timeout": GRACEFUL_SECONDS,
        "timeout": max(30, int(settings.fhir_timeout * 3), int(settings.body_timeout) + 5),
        "keepalive": 5,
        "limit_request_line": LIMIT_REQUEST_LINE,
        "limit_request_field_size": LIMIT_REQUEST_FIELD_SIZE,
        "limit_request_fields": LIMIT_REQUEST_FIELDS,
        # X-Forwarded-Proto and friends only from the proxies the operator named
        "forwarded_allow_ips": ",".join(settings.trusted_proxies),
        # uvloop (libuv) where installed: about 10% more calls/s at concurrency 8 than
        # asyncio's own loop at N=20, on a par with the thread-per-connection worker
        "asgi_loop": "auto",
        "asgi_lifespan": "on",
        "accesslog": None,  # one JSON line per request comes from the app instead
        "errorlog": "-",
        "loglevel": settings.log_level.lower(),
        "logconfig_dict": logging_config(settings.log_level),
        "proc_name": "b12-cds",
        # gunicorn >= 24 opens a control socket under ~/.gunicorn; several services
        # (or a read-only home in a container) must not fight over it
        "control_socket_disable": True,
        "when_ready": _announce(settings.host, app),
        "child_exit": lambda _server, worker: metrics.worker_exited(worker.pid),
    }
    try:
        _Gunicorn(front, options).run()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    finally:
        metrics.cleanup_multiprocess()
    sys.stdout.flush()
    return 0
