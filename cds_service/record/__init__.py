"""The record layer: a tolerant reader from FHIR JSON to an immutable, typed patient view."""

from cds_service.record.model import PatientRecord
from cds_service.record.reader import read_orders, read_record

__all__ = ["PatientRecord", "read_orders", "read_record"]
