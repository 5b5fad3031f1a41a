"""FHIR JSON on the wire, decoded by msgspec straight into the few typed fields the rules read.

Shared by `protocol` (which decodes a hook call's body once) and `record` (which reads the
typed resources): it knows neither. A resource that does not fit these types exactly (a
wrong JSON type anywhere in a field read, an odd shape) is never forced into them: it stays
plain JSON and goes through the tolerant reader, so the fast path changes speed, never the
record (`tests/record/test_wire_differential.py`).
"""
