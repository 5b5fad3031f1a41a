"""The HTTP surface: discovery, hook calls, feedback, health and metrics.

Translation only: each view turns HTTP into a call and the result (or a raised
`ServiceError`) back into JSON. Order of checks on a hook call: body size (413, before
the body is read) -> service id (404) -> auth (401) -> JSON and schema (400) -> hook
matches the service (400) -> evaluation (412 when data is missing) -> 200.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import orjson
from flask import Blueprint, Response, current_app, g, request

from cds_service.cards.profiles import PROFILES
from cds_service.edge import metrics as prometheus
from cds_service.edge.runtime import Runtime
from cds_service.protocol.catalog import ServiceDefinition, first_error
from cds_service.protocol.errors import BadRequest, NotFound, TooLarge
from cds_service.protocol.limits import check_request_shape, check_shape
from cds_service.protocol.request import decode_json, hook_request_from
from cds_service.store.feedback import FeedbackRejected, parse_feedback, store_feedback
from cds_service.trust.auth import authenticate
from cds_service.trust.destinations import confine, explained

bp = Blueprint("cds", __name__)


def json_response(body: Any, status: int = 200) -> Response:
    """Serialise with key order kept (discovery's prefetch order matters)."""
    return Response(orjson.dumps(body), status=status, mimetype="application/json")


def runtime() -> Runtime:
    rt: Runtime = current_app.extensions["b12cds"]
    return rt


@bp.get("/cds-services")
def discovery() -> Response:
    # Discovery is public metadata (no patient data): the contract gates hook and feedback
    # calls. A token that is sent (the sandbox sends one) is still checked in full.
    if "Authorization" in request.headers:
        authenticate(request)
    return json_response(runtime().catalog.discovery_document())


@bp.post("/cds-services/<service_id>")
def hook_call(service_id: str) -> Response:
    rt = runtime()
    service = _admit(rt, service_id)
    data = decode_json(request.get_data(cache=False), observation_keys=service.observation_keys)
    check_request_shape(data)
    hook_request = hook_request_from(data, service, rt.catalog)
    g.log_fields["hook_instance"] = hook_request.hook_instance
    hook_request, refused = confine(hook_request, g.caller)
    with explained(refused):
        result = rt.evaluator.evaluate(service, hook_request, PROFILES[g.caller.profile])
    g.log_fields["card_count"] = result.card_count
    if result.rule_ids:
        g.log_fields["rule_ids"] = list(result.rule_ids)
    return json_response(result.response)


@bp.post("/cds-services/<service_id>/feedback")
def feedback(service_id: str) -> Response:
    rt = runtime()
    service = _admit(rt, service_id)
    body = decode_json(request.get_data(cache=False), "feedback")
    check_shape(body, "feedback")
    problem = first_error(rt.catalog.feedback, body, "feedback")
    if problem:
        raise BadRequest(problem)
    now = datetime.now(UTC)
    try:  # one transaction: all outcomes of this POST are stored, or none
        stored = store_feedback(rt.store, service.id, parse_feedback(body, now), now)
    except FeedbackRejected as exc:
        raise BadRequest(f"feedback rejected, nothing stored: {exc}") from None
    for outcome, rule_id in zip(stored.new, stored.rule_ids, strict=True):
        prometheus.feedback_outcome(rule_id, outcome.outcome)
    g.log_fields["card_count"] = len(stored.new)
    return json_response({})


@bp.get("/healthz")
def healthz() -> Response:
    return json_response({"status": "ok"})


@bp.get("/metrics")
def metrics() -> Response:
    return Response(prometheus.exposition(), content_type=prometheus.CONTENT_TYPE)


@bp.after_request
def count_hook_call(response: Response) -> Response:
    """Hook calls by service and status, and their latency, whatever the outcome."""
    if request.endpoint == "cds.hook_call":
        asked = (request.view_args or {}).get("service_id", "")
        known = current_app.extensions["b12cds"].catalog.service(asked)
        started = g.get("started")
        seconds = time.perf_counter() - started if started is not None else 0.0
        prometheus.hook_call(known.id if known else "unknown", response.status_code, seconds)
    return response


def _admit(rt: Runtime, service_id: str) -> ServiceDefinition:
    """Size, service and caller checks, before the body is read."""
    length = request.content_length
    if length is not None and length > rt.settings.max_body_bytes:
        raise TooLarge(
            f"request body of {length} bytes exceeds the limit of "
            f"{rt.settings.max_body_bytes} bytes (B12CDS_MAX_BODY_BYTES)"
        )
    service = rt.catalog.service(service_id)
    if service is None:
        raise NotFound(f"no CDS service with id {service_id[:100]!r}; see GET /cds-services")
    g.log_fields["service_id"] = service.id
    g.log_fields["hook"] = service.hook
    g.caller = authenticate(request)
    return service
