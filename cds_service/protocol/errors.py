"""Every way a hook call can fail, each with its HTTP status, in one tree.

    ServiceError (500)              a bug on our side; the body never carries a stack trace
     +-- Unavailable (503)          a dependency (the database) is down; retry after a while
     +-- ClientError                anything the client sent or lacks; never a 500
     |    +-- BadRequest (400)      not JSON, breaks the schema, or the wrong hook for this service
     |    +-- Unauthorized (401)    missing or bad client JWT
     |    +-- NotFound (404)        unknown service or path
     |    +-- MethodNotAllowed (405)
     |    +-- DataUnavailable (412) data a rule needs was neither prefetched nor fetchable
     |    +-- RequestTimeout (408)  headers or body not received within their time limit
     |    +-- TooLarge (413)        body above B12CDS_MAX_BODY_BYTES, refused before it is read

Code raises; one handler in the edge maps the exception to its status and a FHIR
OperationOutcome body whose `diagnostics` names what is wrong. No status is ever chosen
by matching message text. Messages must not quote patient data or tokens.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ServiceError(Exception):
    status: ClassVar[int] = 500
    issue_code: ClassVar[str] = "exception"  # FHIR issue-type code

    def __init__(self, diagnostics: str = "internal error") -> None:
        super().__init__(diagnostics)
        self.diagnostics = diagnostics

    def outcome(self) -> dict[str, Any]:
        """The FHIR OperationOutcome body for this error."""
        return operation_outcome(self.issue_code, self.diagnostics)


class Unavailable(ServiceError):
    """Not the client's fault and not a bug: answered 503 with `Retry-After`."""

    status = 503
    issue_code = "transient"
    retry_after_s: ClassVar[int] = 5


class ClientError(ServiceError):
    status = 400
    issue_code = "invalid"


class BadRequest(ClientError):
    status = 400
    issue_code = "invalid"


class Unauthorized(ClientError):
    status = 401
    issue_code = "login"


class NotFound(ClientError):
    status = 404
    issue_code = "not-found"


class MethodNotAllowed(ClientError):
    status = 405
    issue_code = "not-supported"


class DataUnavailable(ClientError):
    status = 412
    issue_code = "processing"


class RequestTimeout(ClientError):
    status = 408
    issue_code = "timeout"


class TooLarge(ClientError):
    status = 413
    issue_code = "too-long"


def operation_outcome(code: str, diagnostics: str, severity: str = "error") -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics}],
    }
