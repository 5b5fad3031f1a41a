"""The Flask application factory.

All start-up work happens here, once: settings are validated, `hooks/` is loaded and
compiled, and the clinical policy is checked, so a bad file stops start-up instead of
failing the first patient. Nothing happens at import time.
"""

from __future__ import annotations

import logging
import os
import re
import time
import uuid
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from cds_service.data.fhir_client import FhirFetcher
from cds_service.demo.preview import bp as preview_bp
from cds_service.demo.preview import demo_enabled
from cds_service.edge.api import bp, json_response
from cds_service.edge.cors import install_cors
from cds_service.edge.evaluation import Clock, Evaluator, utc_today
from cds_service.edge.headers import SECURITY_HEADERS
from cds_service.edge.logs import configure_logging, stack_frames
from cds_service.edge.runtime import Runtime
from cds_service.policy import load_policy
from cds_service.protocol.catalog import load_catalog
from cds_service.protocol.errors import (
    BadRequest,
    ClientError,
    MethodNotAllowed,
    NotFound,
    ServiceError,
    TooLarge,
    Unavailable,
)
from cds_service.settings import Settings
from cds_service.store import open_store
from cds_service.trust.auth import install_auth

log = logging.getLogger("cds_service.http")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")
_HTTP_ERRORS: dict[int, type[ServiceError]] = {
    400: BadRequest,
    404: NotFound,
    405: MethodNotAllowed,
    413: TooLarge,
}


def create_app(
    config: Settings | Mapping[str, Any] | None = None, *, clock: Clock | None = None
) -> Flask:
    """Build the app from `config` (Settings, or overrides of `B12CDS_*`) and a clock.

    Raises SettingsError, PolicyError, CatalogError or StoreError with a message naming
    the problem. The database schema is migrated here, before any worker forks.
    """
    settings = (
        config if isinstance(config, Settings) else Settings.from_env(os.environ, **(config or {}))
    )
    configure_logging(settings.log_level)
    catalog = load_catalog()
    policy = load_policy(settings.policy)
    store = open_store(settings.database_url)
    fetcher = FhirFetcher(max_calls=settings.fhir_concurrency)
    evaluator = Evaluator(catalog, policy, settings, clock or utc_today, store, fetcher)

    app = Flask(__name__, static_folder=None)  # static files belong to the demo blueprint
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep discovery prefetch order
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.extensions["b12cds"] = Runtime(settings, catalog, evaluator, store)
    install_cors(app, settings)
    install_auth(app, settings, store)
    _install_request_log(app)
    _install_error_handlers(app)
    app.register_blueprint(bp)
    if demo_enabled(settings):
        # not registered at all otherwise: `/` and `/demo/*` are then 404 for every
        # method, where a blueprint that refused in `before_request` answered a wrong
        # method with 405 and so showed that the routes exist
        app.register_blueprint(preview_bp)
    return app


def _install_request_log(app: Flask) -> None:
    @app.before_request
    def start() -> None:
        incoming = request.headers.get("X-Request-Id", "")
        g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        g.started = time.perf_counter()
        g.log_fields = {}

    @app.after_request
    def finish(response: Response) -> Response:
        own_csp = response.headers.get("Content-Security-Policy")  # the demo page sets its own
        response.headers.update(SECURITY_HEADERS)
        if own_csp:
            response.headers["Content-Security-Policy"] = own_csp
        request_id = g.get("request_id")
        if request_id:
            response.headers["X-Request-Id"] = request_id
            duration = (time.perf_counter() - g.started) * 1000
            fields = {
                "request_id": request_id,
                "method": request.method,
                "endpoint": request.endpoint or "unmatched",
                "status": response.status_code,
                "duration_ms": round(duration, 2),
                **g.log_fields,
            }
            log.info("request", extra=fields)
        return response


def _install_error_handlers(app: Flask) -> None:
    @app.errorhandler(ServiceError)
    def service_error(exc: ServiceError) -> Response:
        if exc.status >= 500 and not isinstance(exc, Unavailable):
            return unexpected(exc)
        response = json_response(exc.outcome(), exc.status)
        if isinstance(exc, Unavailable):
            response.headers["Retry-After"] = str(exc.retry_after_s)
        if exc.status == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        if exc.status == 413:
            response.headers["Connection"] = "close"  # the unread body must not be parsed
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        code = exc.code or 500
        if code >= 500:
            return unexpected(exc)
        message = exc.description or exc.name
        if code == 405:
            allowed = ", ".join(getattr(exc, "valid_methods", None) or ())
            message = f"method {request.method} is not allowed here; allowed: {allowed}"
        response = service_error(_HTTP_ERRORS.get(code, ClientError)(message))
        response.status_code = code
        if code == 405 and getattr(exc, "valid_methods", None):
            response.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        log.error(
            "unhandled_exception",
            extra={
                "request_id": g.get("request_id"),
                "error_type": type(exc).__name__,
                "frames": stack_frames(exc.__traceback__),
            },
        )
        error = ServiceError(f"internal error; request id {g.get('request_id', 'unknown')}")
        return json_response(error.outcome(), 500)
