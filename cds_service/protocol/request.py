"""A hook call body -> a validated, frozen `HookRequest`.

Validation comes before anything else reads the body: the envelope and the hook's
context are checked against `hooks/schemas`, and the hook must be the service's own.
Unknown fields pass (CDS Hooks asks services to read tolerantly). The FHIR access token
is kept out of `repr` so it cannot reach a log line by accident.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import orjson

from cds_service.protocol.body import decode_hook_body
from cds_service.protocol.catalog import Catalog, ServiceDefinition, first_error
from cds_service.protocol.errors import BadRequest


@dataclass(frozen=True, slots=True)
class FhirAuthorization:
    access_token: str = field(repr=False)
    token_type: str
    scope: str | None = None
    subject: str | None = None
    patient: str | None = None
    expires_in: int | None = None


@dataclass(frozen=True, slots=True)
class HookRequest:
    hook: str
    hook_instance: str
    context: Mapping[str, Any]
    patient_id: str
    user_id: str | None = None
    encounter_id: str | None = None
    fhir_server: str | None = None  # without a trailing slash
    fhir_authorization: FhirAuthorization | None = None
    prefetch: Mapping[str, Any] | None = None  # None when the client sent no prefetch
    selections: tuple[str, ...] | None = None  # order-select only
    draft_orders: Mapping[str, Any] | None = None  # order hooks only


def decode_json(body: bytes, what: str = "request", observation_keys: Collection[str] = ()) -> Any:
    """Parse a body as JSON, or raise BadRequest saying where it broke. A hook call names
    the prefetch keys of its Observation searches, whose resources are decoded typed."""
    if not body.strip():
        raise BadRequest(f"{what} body is empty; expected a JSON object")
    try:
        return decode_hook_body(body, observation_keys)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"{what} body is not valid JSON: {exc}") from None


def parse_hook_request(body: bytes, service: ServiceDefinition, catalog: Catalog) -> HookRequest:
    """Decode and validate a hook call for `service`."""
    return hook_request_from(
        decode_json(body, observation_keys=service.observation_keys), service, catalog
    )


def hook_request_from(data: Any, service: ServiceDefinition, catalog: Catalog) -> HookRequest:
    if not isinstance(data, dict):
        raise BadRequest("request body must be a JSON object")
    problem = first_error(catalog.request, data, "request")
    if problem:
        raise BadRequest(problem)
    if data["hook"] != service.hook:
        raise BadRequest(
            f"request field /hook: service {service.id!r} answers {service.hook!r}, "
            f"not {data['hook']!r}"
        )
    context: dict[str, Any] = data["context"]
    auth = data.get("fhirAuthorization")
    prefetch = data.get("prefetch")
    selections: Sequence[str] | None = context.get("selections")
    fhir_server = data.get("fhirServer")
    return HookRequest(
        hook=data["hook"],
        hook_instance=data["hookInstance"],
        context=MappingProxyType(context),
        patient_id=context["patientId"],
        user_id=context.get("userId"),
        encounter_id=context.get("encounterId"),
        fhir_server=fhir_server.rstrip("/") if fhir_server else None,
        fhir_authorization=_authorization(auth) if auth else None,
        prefetch=MappingProxyType(prefetch) if isinstance(prefetch, dict) else None,
        selections=tuple(selections) if selections is not None else None,
        draft_orders=context.get("draftOrders"),
    )


def _authorization(auth: Mapping[str, Any]) -> FhirAuthorization:
    return FhirAuthorization(
        access_token=auth["access_token"],
        token_type=auth.get("token_type", "Bearer"),
        scope=auth.get("scope"),
        subject=auth.get("subject"),
        patient=auth.get("patient"),
        expires_in=auth.get("expires_in"),
    )
