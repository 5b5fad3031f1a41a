"""Prefetch templates -> FHIR search requests, with the tokens filled from the hook context.

The same published templates drive the discovery document and the FHIR fallback, so what the
service fetches for itself can never drift from what it asks EHRs to prefetch. Token values
are checked against the FHIR id grammar before use: a context value can never add a path
segment or a query parameter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

TOKEN = re.compile(r"\{\{\s*([A-Za-z.]+)\s*\}\}")
FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
REFERENCE = re.compile(r"^[A-Z][A-Za-z]{1,63}/[A-Za-z0-9\-.]{1,64}$")
# a type-level search ("Observation") or an instance read ("Patient/123"), nothing else
PATH = re.compile(r"^[A-Z][A-Za-z]{1,63}(/[A-Za-z0-9\-.]{1,64})?$")
USER_TOKENS = {
    "userPractitionerId": "Practitioner",
    "userPractitionerRoleId": "PractitionerRole",
    "userPatientId": "Patient",
    "userRelatedPersonId": "RelatedPerson",
}


class TemplateError(ValueError):
    """A template token cannot be filled from this context (the key stays unfetchable)."""


@dataclass(frozen=True, slots=True)
class Query:
    """A relative FHIR read or search: `path` ("Observation" or "Patient/123") and params."""

    path: str
    params: tuple[tuple[str, str], ...]


def _token_value(name: str, context: Mapping[str, Any]) -> str:
    if name.startswith("context."):
        value = context.get(name.removeprefix("context."))
        if name == "context.userId" and isinstance(value, str) and REFERENCE.match(value):
            if value.rsplit("/", 1)[1].strip("."):
                return value
            raise TemplateError(f"prefetch token {name!r} has no usable value")
    elif name in USER_TOKENS:
        user = context.get("userId")
        kind, _, ident = user.partition("/") if isinstance(user, str) else ("", "", "")
        value = ident if kind == USER_TOKENS[name] else None
    else:
        raise TemplateError(f"unknown prefetch token {name!r}")
    # ids of dots only (".", "..") match the grammar but would walk the URL path
    if not isinstance(value, str) or not FHIR_ID.match(value) or not value.strip("."):
        raise TemplateError(f"prefetch token {name!r} has no usable value")
    return value


def fill(template: str, context: Mapping[str, Any]) -> Query:
    """Fill one template; raises TemplateError if a token has no safe value.

    Parameters are split before tokens are filled, so a value can never become a new
    parameter; they are encoded later, when the request is sent.
    """
    path, _, query = template.partition("?")
    path = TOKEN.sub(lambda m: _token_value(m.group(1), context), path)
    params = tuple(
        (key, TOKEN.sub(lambda m: _token_value(m.group(1), context), value))
        for key, value in parse_qsl(query, keep_blank_values=True)
    )
    if not PATH.match(path):
        raise TemplateError("prefetch template is not a FHIR read or type-level search")
    if any("{{" in part or "}}" in part for pair in params for part in pair):
        raise TemplateError("prefetch template has a token this service cannot fill")
    return Query(path=path, params=params)
