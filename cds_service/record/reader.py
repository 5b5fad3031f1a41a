"""Tolerant reader: raw FHIR R4 JSON -> the typed `PatientRecord` the rules read.

(Skeleton: the full reader replaces this body; the signatures are the contract.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cds_service.policy import Policy
from cds_service.record.model import DataGap, Orders, PatientRecord


def read_record(
    patient_id: str,
    resources: Iterable[Mapping[str, Any]],
    policy: Policy,
    notes: Sequence[DataGap] = (),
) -> PatientRecord:
    """Build the patient's record from raw resources (any order, duplicates, other types)."""
    return PatientRecord(patient_id=patient_id, gaps=tuple(notes))


def read_orders(
    draft_orders: Any,
    selections: Sequence[str] | None,
    policy: Policy,
) -> Orders:
    """Read `context.draftOrders`; with `selections` None (order-sign) every order is in focus."""
    return Orders()
