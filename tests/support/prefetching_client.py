"""A CDS client's prefetch, done the way the CDS Hooks Sandbox does it, against a real FHIR server.

For each published template (or an override, e.g. an older template): fill the tokens from
the context, run it on the FHIR server, and put the searchset Bundle in `prefetch` exactly as
the server answered, with its `total` and its `next` link (clients.md: "only the first
page"). A key whose query fails is left out. `all_pages` names keys for which the client
follows `next` and sends one Bundle with every entry (what a careful EHR sends).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from cds_service.data.templates import fill
from cds_service.protocol.catalog import load_catalog
from tests.support.fhir_server import FhirServer


def templates_of(service_id: str) -> dict[str, str]:
    service = load_catalog().service(service_id)
    assert service is not None, service_id
    return dict(service.prefetch)


def prefetch(
    fhir: FhirServer,
    service_id: str,
    context: Mapping[str, Any],
    *,
    all_pages: Collection[str] = (),
    templates: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The `prefetch` object a client would send for `service_id` (first pages by default)."""
    found: dict[str, Any] = {}
    for key, template in (templates or templates_of(service_id)).items():
        query = fill(template, context)
        response = fhir.get(query.path, **dict(query.params))
        if response.status_code != 200:
            continue  # the sandbox leaves a failed key out; it never sends null for it
        body: dict[str, Any] = response.json()
        if key in all_pages and body.get("resourceType") == "Bundle":
            body = _every_page(fhir, body)
        found[key] = body
    return found


def _every_page(fhir: FhirServer, first: dict[str, Any]) -> dict[str, Any]:
    merged = dict(first)
    entries = list(first.get("entry", []))
    page = first
    while (url := _next(page)) is not None:
        page = fhir.get(url).json()
        entries += page.get("entry", [])
    merged["entry"] = entries
    merged["link"] = [link for link in first.get("link", []) if link["relation"] == "self"]
    if not entries:
        del merged["entry"]
    return merged


def _next(bundle: Mapping[str, Any]) -> str | None:
    return next(
        (link["url"] for link in bundle.get("link", []) if link["relation"] == "next"), None
    )
