"""The typed Observation: the fields `record.observations` reads, and nothing else.

Narrative, extensions, `meta` other than `lastUpdated`, performers, notes, components...
are skipped by the decoder and never become Python objects. Every field is optional and
strictly typed: `valueQuantity.value` must be a JSON number, a reference range a list, and
so on; anything else fails the decode and the resource is read as plain JSON instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec


class Coding(msgspec.Struct, gc=False):
    system: str | None = None
    code: str | None = None
    display: str | None = None


class Concept(msgspec.Struct, gc=False):
    coding: list[Coding] | None = None
    text: str | None = None


class Quantity(msgspec.Struct, gc=False):
    value: float | None = None
    comparator: str | None = None
    unit: str | None = None
    code: str | None = None


class Range(msgspec.Struct, gc=False):
    high: Quantity | None = None


class Period(msgspec.Struct, gc=False):
    start: str | None = None
    end: str | None = None


class Reference(msgspec.Struct, gc=False):
    reference: str | None = None


class Meta(msgspec.Struct, gc=False):
    lastUpdated: str | None = None


class Observation(msgspec.Struct, tag_field="resourceType", tag="Observation", gc=False):
    """A typed Observation. To the data layer it answers what it asks of any resource, its
    `resourceType` and `id`, through `get` / `[]`; the reader reads its fields."""

    id: str | None = None
    meta: Meta | None = None
    status: str | None = None
    code: Concept | None = None
    subject: Reference | None = None
    patient: Reference | None = None
    effectiveDateTime: str | None = None
    effectiveInstant: str | None = None
    effectivePeriod: Period | None = None
    issued: str | None = None
    valueQuantity: Quantity | None = None
    valueInteger: int | None = None
    valueString: str | None = None
    dataAbsentReason: Concept | None = None
    referenceRange: list[Range] | None = None

    def get(self, key: str, default: Any = None) -> Any:
        if key == "resourceType":
            return "Observation"
        if key == "id":
            return self.id if self.id is not None else default
        return default

    def __getitem__(self, key: str) -> Any:
        found = self.get(key, _MISSING)
        if found is _MISSING:
            raise KeyError(key)
        return found


_MISSING: Any = object()


class Search(msgspec.Struct, gc=False):
    mode: str | msgspec.UnsetType | None = msgspec.UNSET


class Entry(msgspec.Struct, gc=False):
    """A Bundle entry of an Observation search, as decoded: the data layer reads its
    resource and `search.mode` (`data.fhir_client.entries`, `data.completeness`)."""

    fullUrl: str | msgspec.UnsetType = msgspec.UNSET
    search: Search | msgspec.UnsetType = msgspec.UNSET
    resource: Observation | msgspec.UnsetType = msgspec.UNSET

    @property
    def mode(self) -> str | None:
        """`search.mode`, or None when the entry has no search (or no mode)."""
        search = self.search
        if isinstance(search, msgspec.UnsetType) or isinstance(search.mode, msgspec.UnsetType):
            return None
        return search.mode

    @property
    def has_search(self) -> bool:
        return not isinstance(self.search, msgspec.UnsetType)


_DECODER = msgspec.json.Decoder(Observation)
# What a msgspec decode raises for input that does not fit (RecursionError: nested too deep)
DECODE_ERRORS = (msgspec.ValidationError, msgspec.DecodeError, RecursionError)


def observation(raw: bytes | msgspec.Raw) -> Observation | None:
    """The typed Observation, or None when `raw` is not one that fits the types."""
    try:
        return _DECODER.decode(raw)
    except DECODE_ERRORS:
        return None


# A resource as the data layer and reader handle it: plain JSON, or a typed Observation.
Resource = Mapping[str, Any] | Observation
