"""CORS for browser CDS clients (the CDS Hooks sandbox is one).

Preflights are answered before any auth check, because browsers send them without an
Authorization header. Only configured origins are echoed; `*` is possible only with
`B12CDS_AUTH=none`, which settings already restrict to loopback.
"""

from __future__ import annotations

from flask import Flask, Response, request

from cds_service.settings import Settings

ALLOW_METHODS = "GET, POST, OPTIONS"
ALLOW_HEADERS = "Authorization, Content-Type"
MAX_AGE_SECONDS = "600"


def install_cors(app: Flask, settings: Settings) -> None:
    origins = frozenset(settings.cors_origins)

    def allowed_origin() -> str | None:
        origin = request.headers.get("Origin")
        if origin is None:
            return None
        if "*" in origins:
            return "*"
        return origin if origin.rstrip("/") in origins else None

    @app.before_request
    def answer_preflight() -> Response | None:
        if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
            return None
        response = Response(status=204)
        if allowed_origin() is not None:
            response.headers["Access-Control-Allow-Methods"] = ALLOW_METHODS
            response.headers["Access-Control-Allow-Headers"] = ALLOW_HEADERS
            response.headers["Access-Control-Max-Age"] = MAX_AGE_SECONDS
        return response

    @app.after_request
    def add_cors_headers(response: Response) -> Response:
        origin = allowed_origin()
        if origin is not None:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = "X-Request-Id"
        response.vary.add("Origin")
        return response
