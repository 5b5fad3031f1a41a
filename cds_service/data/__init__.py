"""The data layer: prefetch (and later the FHIR fallback) -> raw resource dicts."""

from cds_service.data.prefetch import RawData, gather

__all__ = ["RawData", "gather"]
