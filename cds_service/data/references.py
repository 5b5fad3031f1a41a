"""Medications named only by reference: which ones the service must read itself, and how.

A MedicationRequest (a draft order from Epic, or one on the FHIR server) may name its drug as
`medicationReference: {"reference": "Medication/123"}` with the Medication neither contained
nor `_include`d. Without it the order is "some drug": a B12 order would not count as B12
therapy, a folic acid draft would pass unchecked. So the data layer reads such Medications
from `fhirServer` (at most `MAX_MEDICATION_READS` per call, within the same budget) and hands
them to the reader exactly as included ones are: as resources next to the orders.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from cds_service.data.templates import FHIR_ID, Query

MAX_MEDICATION_READS = 20
MEDICATION_USERS = frozenset(
    {"MedicationRequest", "MedicationStatement", "MedicationAdministration", "MedicationDispense"}
)


def _reference(resource: Mapping[str, Any]) -> str | None:
    value = resource.get("medicationReference")
    if not isinstance(value, dict):  # an R5 CodeableReference, tolerated as the reader does
        medication = resource.get("medication")
        value = medication.get("reference") if isinstance(medication, dict) else None
    ref = value.get("reference") if isinstance(value, dict) else None
    return ref if isinstance(ref, str) and 0 < len(ref) <= 2048 else None


def medication_id(ref: str, base_url: str | None) -> str | None:
    """The id of a Medication on `base_url` named by `ref` ("Medication/1" or an absolute URL
    under the base), or None (contained "#x", another server, another type, a bad id)."""
    if ref.startswith("#"):
        return None
    path = ref
    if "://" in ref:
        if base_url is None:
            return None
        try:
            parts, base = urlsplit(ref), urlsplit(base_url)
        except ValueError:
            return None
        prefix = base.path.rstrip("/") + "/"
        if (parts.scheme, parts.netloc) != (base.scheme, base.netloc) or not parts.path.startswith(
            prefix
        ):
            return None
        path = parts.path[len(prefix) :]
    segments = path.split("/")
    if len(segments) >= 4 and segments[-2] == "_history":
        segments = segments[:-2]
    if len(segments) != 2 or segments[0] != "Medication":
        return None
    ident = segments[1]
    return ident if FHIR_ID.match(ident) and ident.strip(".") else None


def unresolved(
    resources: Iterable[Mapping[str, Any]], base_url: str | None
) -> dict[str, list[Mapping[str, Any]]]:
    """Medication ids named by the medication resources and not among `resources` themselves,
    each with the resources naming it (in order of first mention)."""
    held: set[str] = set()
    named: dict[str, list[Mapping[str, Any]]] = {}
    for resource in resources:
        kind = resource.get("resourceType")
        if not isinstance(kind, str):
            continue
        if kind == "Medication":
            ident = resource.get("id")
            if isinstance(ident, str):
                held.add(ident)
        elif kind in MEDICATION_USERS and (
            "medicationReference" in resource or "medication" in resource
        ):
            ref = _reference(resource)
            ident = medication_id(ref, base_url) if ref is not None else None
            if ident is not None:
                named.setdefault(ident, []).append(resource)
    return {ident: users for ident, users in named.items() if ident not in held}


def reads(ids: Iterable[str]) -> dict[str, Query]:
    """One instance read per Medication id, keyed for the fetcher ("Medication/<id>")."""
    return {f"Medication/{ident}": Query(path=f"Medication/{ident}", params=()) for ident in ids}


def draft_resources(draft_orders: Any) -> list[Mapping[str, Any]]:
    """The resources of `context.draftOrders` (a Bundle, tolerated in the shapes the reader
    tolerates: entries with or without `resource`)."""
    if not isinstance(draft_orders, dict):
        return []
    entries = draft_orders.get("entry")
    found: list[Mapping[str, Any]] = []
    for entry in entries if isinstance(entries, list) else [entries]:
        if isinstance(entry, dict):
            resource = entry.get("resource", entry)
            if isinstance(resource, dict):
                found.append(resource)
    return found


def with_medications(
    draft_orders: Any, medications: Iterable[Mapping[str, Any]]
) -> Mapping[str, Any] | Any:
    """`draftOrders` with the Medications it names added as entries, so the reader resolves
    them as it resolves any Medication in the Bundle (the request itself is not changed)."""
    extra = [{"resource": m} for m in medications]
    if not extra or not isinstance(draft_orders, dict):
        return draft_orders
    entries = draft_orders.get("entry")
    kept = entries if isinstance(entries, list) else [entries] if entries else []
    return {**draft_orders, "entry": [*kept, *extra]}
