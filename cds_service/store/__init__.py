"""Durable state: issued-card audit, feedback, alert-fatigue lookups and the JWT replay cache.

Outside the hook-call layers: only the edge and trust use it, and it knows nothing of HTTP or
FHIR. Every value it keeps about a patient is an HMAC under a per-installation secret.
"""

from cds_service.store.engine import UNAVAILABLE, Store, StoreError, open_store

__all__ = ["UNAVAILABLE", "Store", "StoreError", "open_store"]
