"""Headers every answer carries, and the one error body shape, for the app and the server front.

The Flask app adds them in `after_request`; the server front (`edge/front.py`,
`edge/worker.py`) answers some requests before the app sees them (a malformed or stalled
request, a body over the limit) and uses the same headers and the same OperationOutcome
body, so no answer of the service looks like a bare server page.
"""

from __future__ import annotations

import orjson

from cds_service.protocol.errors import operation_outcome

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}
# FHIR issue-type codes for the statuses the server front answers by itself
ISSUE_CODES = {
    400: "invalid",
    404: "not-found",
    408: "timeout",
    413: "too-long",
    414: "too-long",
    431: "too-long",
    501: "not-supported",
    503: "transient",
}


def outcome_body(status: int, diagnostics: str) -> bytes:
    return orjson.dumps(operation_outcome(ISSUE_CODES.get(status, "exception"), diagnostics))


def error_headers(length: int, *, close: bool = True) -> list[tuple[bytes, bytes]]:
    """Raw headers of an OperationOutcome answer of `length` bytes."""
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(length).encode()),
        *((k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()),
    ]
    if close:
        headers.append((b"connection", b"close"))
    return headers
