"""Tolerant reader: raw FHIR R4 JSON -> the typed `PatientRecord` the rules read.

Never raises on input shape. Work is proportional to what the rules read: a resource is
first checked by type and patient, then by code (a dict lookup against the policy's value
sets), and only a match is parsed further. Anything relevant that cannot be used becomes
a `DataGap` in words a clinician can read on a card.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from cds_service.policy import Policy
from cds_service.record.conditions import (
    mentions_nitrous_oxide,
    read_condition,
    read_procedure,
    words_name_b12,
)
from cds_service.record.dates import fuzzy_date, newest_first_key
from cds_service.record.index import PolicyIndex, index_for
from cds_service.record.jsonish import (
    JSON,
    code,
    coding_keys,
    concept_texts,
    obj,
    objs,
    reference,
    text,
)
from cds_service.record.medications import SOURCES, index_medications, read_medication
from cds_service.record.model import (
    SERIES_ANALYTES,
    Analyte,
    DataGap,
    Diagnosis,
    DraftOrder,
    LabResult,
    MedicationUse,
    Orders,
    PatientRecord,
    ProcedureRecord,
)
from cds_service.record.observations import (
    analyte_of,
    observation_date,
    read_observation,
    read_wire_observation,
    wire_analyte_of,
    wire_observation_date,
)
from cds_service.wire.observation import Observation as WireObservation
from cds_service.wire.observation import Resource

RECORD_TYPES = frozenset(
    {
        "Patient",
        "Observation",
        "Condition",
        "Procedure",
        "Medication",
        "MedicationRequest",
        "MedicationStatement",
        "MedicationAdministration",
    }
)
_MAX_BUNDLE_DEPTH = 2


# --- input hygiene -------------------------------------------------------------------------


def _flatten(items: Any, depth: int = 0) -> Iterator[Resource]:
    """Resource dicts, with any Bundle that slipped through opened up."""
    if isinstance(items, Mapping):
        items = (items,)
    elif isinstance(items, str | bytes | bytearray):
        return
    try:
        iterator = iter(items)
    except TypeError:
        return
    for item in iterator:
        if type(item) is WireObservation:
            yield item
            continue
        if type(item) is not dict and not isinstance(item, Mapping):
            continue
        if item.get("resourceType") == "Bundle":
            if depth < _MAX_BUNDLE_DEPTH:
                inner = (obj(entry.get("resource")) for entry in objs(item.get("entry")))
                yield from _flatten([r for r in inner if r is not None], depth + 1)
            continue
        yield item


def _last_segments(ref: str) -> tuple[str, str] | None:
    """("Type", "id") from "Type/id", an absolute URL, or a versioned reference."""
    parts = ref.split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        parts = parts[:-2]
    if len(parts) < 2 or not parts[-1]:
        return None
    return parts[-2], parts[-1]


def _patient_key(patient_id: str) -> str:
    found = _last_segments(patient_id) if "/" in patient_id else None
    return found[1] if found is not None and found[0] == "Patient" else patient_id.strip()


def _about_patient(resource: Resource, resource_type: str, patient: str, own_ref: str) -> bool:
    """False only when the resource names a different patient (`own_ref` is "Patient/<id>")."""
    if resource_type == "Patient":
        ident = text(resource.get("id"))
        return ident is None or ident == patient
    if isinstance(resource, WireObservation):
        for wired in (resource.subject, resource.patient):
            if wired is None:
                continue
            if own_ref and wired.reference == own_ref:
                return True
            ref = text(wired.reference)
            if ref is not None:
                return _last_segments(ref) == ("Patient", patient)
        return True
    for field in ("subject", "patient"):
        value = resource.get(field)
        if own_ref and type(value) is dict and value.get("reference") == own_ref:
            return True  # the common case, exactly as written by the server
        ref = reference(value)
        if ref is not None:
            return _last_segments(ref) == ("Patient", patient)
    return True


def _updated(resource: Resource) -> float:
    """meta.lastUpdated as a timestamp (unknown counts as oldest)."""
    if isinstance(resource, WireObservation):
        wired = resource.meta
        stamp = text(wired.lastUpdated) if wired is not None else None
    else:
        meta = obj(resource.get("meta"))
        stamp = text(meta.get("lastUpdated")) if meta is not None else None
    if stamp is None or len(stamp) > 40:
        return -math.inf
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        day = fuzzy_date(stamp)
        if day is None:
            return -math.inf
        moment = datetime(day.earliest.year, day.earliest.month, day.earliest.day)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.timestamp()
    except (OverflowError, ValueError, OSError):
        return -math.inf


Hit = tuple[Analyte, str] | None


def _coded_for_us(resource: JSON, resource_type: str, index: PolicyIndex) -> bool:
    """The cheap pre-filter: does any code matter to the rules (value sets), or do the words
    name what the rules read by words (nitrous oxide use; a B12 injection procedure)?"""
    if resource_type in ("Condition", "Procedure"):
        concept = resource.get("code")
        if any(key in index.concepts for key in coding_keys(concept)):
            return True
        if resource_type == "Condition":
            return mentions_nitrous_oxide(concept)
        return words_name_b12(list(concept_texts(concept)))
    return True  # medications need their references resolved first; Patient, Medication


def _select(
    resources: Any,
    patient: str,
    index: PolicyIndex,
    hits: dict[int, Hit],
    analytes: frozenset[Analyte] | None = None,
) -> list[tuple[str, Resource]]:
    """This patient's relevant resources, deduplicated by (type, id), newest version kept.

    An Observation is kept only for a lab the rules read (of `analytes`, when given); its
    (analyte, code) hit goes to `hits`, by `id()` of the resource, so the reader does not
    work it out twice.
    """
    kept: dict[tuple[str, str], Resource] = {}
    anonymous: list[Resource] = []
    own_ref = f"Patient/{patient}" if patient else ""
    for resource in _flatten(resources):
        hit: Hit = None
        resource_type: Any
        if isinstance(resource, WireObservation):  # the typed common case, read by its fields
            resource_type = "Observation"
            hit = wire_analyte_of(resource, index)
            if hit is None or (analytes is not None and hit[0] not in analytes):
                continue
        else:
            resource_type = resource.get("resourceType")
            if type(resource_type) is not str or resource_type not in RECORD_TYPES:
                continue
            if resource_type == "Observation":
                hit = analyte_of(resource, index)
                if hit is None or (analytes is not None and hit[0] not in analytes):
                    continue
            elif not _coded_for_us(resource, resource_type, index):
                continue
        if resource_type != "Medication" and not _about_patient(
            resource, resource_type, patient, own_ref
        ):
            continue
        if hit is not None:
            hits[id(resource)] = hit
        ident = text(resource.get("id"))
        if ident is None:
            anonymous.append(resource)
            continue
        key = (resource_type, ident)
        previous = kept.get(key)
        if previous is None or _updated(resource) > _updated(previous):
            kept[key] = resource
    chosen = [(f"{rt}/{ident}", res) for (rt, ident), res in kept.items()]
    chosen.extend((f"{res['resourceType']}/#{n}", res) for n, res in enumerate(anonymous))
    return chosen


def _unique(gaps: Iterable[DataGap]) -> tuple[DataGap, ...]:
    return tuple(dict.fromkeys(g for g in gaps if isinstance(g, DataGap)))


def _lab_key(lab: LabResult) -> tuple[object, ...]:
    return (lab.analyte, lab.code, lab.value, lab.comparator, lab.when.earliest, lab.when.latest)


# --- the record ----------------------------------------------------------------------------


def read_record(
    patient_id: str,
    resources: Iterable[Resource],
    policy: Policy,
    notes: Sequence[DataGap] = (),
    analytes: frozenset[Analyte] | None = None,
    series: frozenset[Analyte] | None = None,
) -> PatientRecord:
    """Build the patient's record from raw resources (any order, duplicates, other types).

    `analytes`: read lab results of these only (what the hook's rules read); None: all.
    `series`: of the `SERIES_ANALYTES`, read only these as a whole series (what the hook's
    rules read as one: their `SERIES`); the others as their newest usable result. None: all.
    """
    patient = _patient_key(patient_id if isinstance(patient_id, str) else "")
    as_series = SERIES_ANALYTES if series is None else SERIES_ANALYTES & series
    index = index_for(policy)
    hits: dict[int, Hit] = {}
    chosen = _select(resources, patient, index, hits, analytes)
    included = index_medications(res for _, res in chosen if not isinstance(res, WireObservation))
    gaps: list[DataGap] = list(notes) if isinstance(notes, Sequence) else []
    labs: list[LabResult] = []
    seen_labs: set[tuple[object, ...]] = set()
    diagnoses: list[Diagnosis] = []
    procedures: list[ProcedureRecord] = []
    medications: list[MedicationUse] = []
    birth_date = None
    gender: str | None = None
    newest_only: dict[Analyte, list[tuple[str, Resource, Hit]]] = {}
    for ref, resource in chosen:
        resource_type = resource["resourceType"]
        if isinstance(resource, WireObservation) or resource_type == "Observation":
            hit = hits.get(id(resource))
            if hit is not None and hit[0] not in as_series:
                newest_only.setdefault(hit[0], []).append((ref, resource, hit))
                continue
            lab = _read_lab(resource, ref, index, gaps, hit)
            if lab is not None:
                key = _lab_key(lab)
                if "/#" in ref and key in seen_labs:
                    continue
                seen_labs.add(key)
                labs.append(lab)
        elif resource_type == "Condition":
            diagnosis = read_condition(resource, ref, policy, index, gaps)
            if diagnosis is not None:
                diagnoses.append(diagnosis)
        elif resource_type == "Procedure":
            procedure = read_procedure(resource, ref, policy, index, gaps)
            if procedure is not None:
                procedures.append(procedure)
        elif resource_type in SOURCES:
            if code(resource.get("status")) == "entered-in-error":
                continue
            use = read_medication(
                resource, ref, SOURCES[resource_type], policy, index, included, gaps
            )
            if use is not None:
                medications.append(use)
        elif resource_type == "Patient" and birth_date is None and gender is None:
            birth_date = fuzzy_date(resource.get("birthDate"))
            found_gender = code(resource.get("gender"))
            gender = found_gender[:20] if found_gender else None
    for candidates in newest_only.values():
        newest = _newest_usable(candidates, index, gaps)
        if newest is not None:
            labs.append(newest)
    return PatientRecord(
        patient_id=patient,
        birth_date=birth_date,
        gender=gender,
        labs=tuple(sorted(labs, key=lambda r: (newest_first_key(r.when), r.ref))),
        diagnoses=tuple(sorted(diagnoses, key=lambda d: (newest_first_key(d.first_known), d.ref))),
        procedures=tuple(sorted(procedures, key=lambda p: (newest_first_key(p.performed), p.ref))),
        medications=tuple(sorted(medications, key=lambda m: (newest_first_key(m.start), m.ref))),
        gaps=_unique(gaps),
        analytes=analytes,
        series=None if series is None else as_series,
    )


def _newest_usable(
    candidates: list[tuple[str, Resource, Hit]], index: PolicyIndex, gaps: list[DataGap]
) -> LabResult | None:
    """The result `latest()` would pick had every candidate been read, reading only from
    the newest down to the first usable one (older ones are never looked at, so their
    gaps are not reported; newer unusable ones are, as is any without a valid date)."""
    dated: list[tuple[tuple[tuple[int, int, int], str], str, Resource, Hit]] = []
    for ref, resource, hit in candidates:
        raw_when = (
            wire_observation_date(resource)
            if isinstance(resource, WireObservation)
            else observation_date(resource)
        )
        when = fuzzy_date(raw_when)
        if when is None:
            _read_lab(resource, ref, index, gaps, hit)  # says why it is skipped
            continue
        dated.append(((newest_first_key(when), ref), ref, resource, hit))
    dated.sort(key=lambda item: item[0])
    for _, ref, resource, hit in dated:
        lab = _read_lab(resource, ref, index, gaps, hit)
        if lab is not None:
            return lab
    return None


def _read_lab(
    resource: Resource, ref: str, index: PolicyIndex, gaps: list[DataGap], hit: Hit
) -> LabResult | None:
    if isinstance(resource, WireObservation):
        return read_wire_observation(resource, ref, index, gaps, hit)
    return read_observation(resource, ref, index, gaps, hit)


# --- draft orders --------------------------------------------------------------------------


def _draft_entries(draft_orders: Any) -> list[tuple[int, JSON]]:
    """(position, resource) for each entry of a Bundle (or a bare list / single resource)."""
    if isinstance(draft_orders, Mapping):
        if draft_orders.get("resourceType") == "Bundle" or "entry" in draft_orders:
            raw = draft_orders.get("entry")
            items: list[Any] = raw if isinstance(raw, list) else [raw] if raw else []
        else:
            items = [draft_orders]
    elif isinstance(draft_orders, list):
        items = draft_orders
    else:
        return []
    found: list[tuple[int, JSON]] = []
    for position, item in enumerate(items):
        entry = obj(item)
        if entry is None:
            continue
        resource = obj(entry.get("resource")) if "resource" in entry else entry
        if resource is not None and isinstance(resource.get("resourceType"), str):
            found.append((position, resource))
    return found


def _selection_refs(selections: Any) -> frozenset[tuple[str, str]]:
    items = [selections] if isinstance(selections, str) else selections
    if not isinstance(items, list | tuple | set | frozenset):
        return frozenset()
    refs = (_last_segments(s.strip()) for s in items if isinstance(s, str))
    return frozenset(r for r in refs if r is not None)


def read_orders(
    draft_orders: Any,
    selections: Sequence[str] | None,
    policy: Policy,
) -> Orders:
    """Read `context.draftOrders`; with `selections` None (order-sign) every order is in focus."""
    index = index_for(policy)
    entries = _draft_entries(draft_orders)
    included = index_medications(res for _, res in entries)
    chosen = None if selections is None else _selection_refs(selections)
    drafts: list[DraftOrder] = []
    gaps: list[DataGap] = []
    for position, resource in entries:
        resource_type = resource["resourceType"].strip()
        if resource_type == "Medication" or not resource_type:
            continue
        ident = text(resource.get("id"))
        ref = f"{resource_type}/{ident}" if ident else f"{resource_type}/#{position}"
        medication = None
        if resource_type == "MedicationRequest":
            medication = read_medication(
                resource, ref, SOURCES[resource_type], policy, index, included, gaps
            )
        drafts.append(
            DraftOrder(
                ref=ref,
                resource_type=resource_type,
                status=code(resource.get("status")),
                intent=code(resource.get("intent")),
                selected=chosen is None or (resource_type, ident or f"#{position}") in chosen,
                medication=medication,
                raw=resource,
            )
        )
    return Orders(drafts=tuple(drafts), gaps=_unique(gaps))
