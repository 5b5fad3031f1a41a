"""A hook call's body, parsed once: Observations straight into typed structures.

The envelope, context and every prefetch value other than an Observation search come out as
plain JSON, exactly as `orjson.loads` gives them; in a Bundle of an Observation search each
entry's resource is decoded by `wire.observation` into the typed fields the reader reads
(narrative, extensions and the rest are skipped, never built). A resource that does not fit
those types stays plain JSON; a body the fast decoder does not take whole (not UTF-8, an
unknown top-level field, any JSON error) is parsed by orjson as before, so what a client
gets back (a 400 saying where the JSON broke, or the same cards) never depends on the path.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import msgspec
import orjson

from cds_service.wire.observation import DECODE_ERRORS as _ERRORS
from cds_service.wire.observation import Entry, observation

_NOTHING = msgspec.Raw(b"")


class _Envelope(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    # Raw, then orjson: what is not typed comes out exactly as orjson gives it (msgspec's
    # own untyped decoding differs at the edges, e.g. integers beyond 64 bits)
    hook: msgspec.Raw = _NOTHING
    hookInstance: msgspec.Raw = _NOTHING
    fhirServer: msgspec.Raw = _NOTHING
    fhirAuthorization: msgspec.Raw = _NOTHING
    context: msgspec.Raw = _NOTHING
    prefetch: dict[str, msgspec.Raw] | msgspec.UnsetType = msgspec.UNSET
    extension: msgspec.Raw = _NOTHING


class _RawEntry(msgspec.Struct, gc=False):
    fullUrl: msgspec.Raw = _NOTHING
    search: msgspec.Raw = _NOTHING
    resource: msgspec.Raw = _NOTHING


class _TypedBundle(msgspec.Struct, gc=False):
    resourceType: str | msgspec.UnsetType | None = msgspec.UNSET
    type: msgspec.Raw = _NOTHING
    total: msgspec.Raw = _NOTHING
    link: msgspec.Raw = _NOTHING
    entry: list[Entry] | msgspec.UnsetType = msgspec.UNSET


class _RawBundle(msgspec.Struct, gc=False):
    resourceType: msgspec.Raw = _NOTHING
    type: msgspec.Raw = _NOTHING
    total: msgspec.Raw = _NOTHING
    link: msgspec.Raw = _NOTHING
    entry: list[_RawEntry] | msgspec.UnsetType = msgspec.UNSET


_ENVELOPE = msgspec.json.Decoder(_Envelope)
_TYPED = msgspec.json.Decoder(_TypedBundle)
_RAW = msgspec.json.Decoder(_RawBundle)


class _Fallback(Exception):
    """This body is parsed the plain way."""


def decode_hook_body(body: bytes, observation_keys: Collection[str] = ()) -> Any:
    """The body as `orjson.loads` would give it, but with the Observations of the prefetch
    keys in `observation_keys` decoded typed. Raises orjson's error for what is not JSON."""
    if observation_keys:
        try:
            return _fast(body, observation_keys)
        except _Fallback:
            pass
    return orjson.loads(body)


def _fast(body: bytes, observation_keys: Collection[str]) -> dict[str, Any]:
    if not body.isascii():
        try:
            body.decode("utf-8")  # msgspec does not check text it skips; orjson does
        except UnicodeDecodeError:
            raise _Fallback from None
    try:
        envelope = _ENVELOPE.decode(body)
    except _ERRORS:
        raise _Fallback from None
    found: dict[str, Any] = {}
    for name in _Envelope.__struct_fields__:
        value = getattr(envelope, name)
        if name == "prefetch":
            if not isinstance(value, msgspec.UnsetType):
                found[name] = {k: _slot(raw, k in observation_keys) for k, raw in value.items()}
        elif _given(value):
            found[name] = _plain(value)
    return found


def _given(raw: msgspec.Raw) -> bool:
    return raw is not _NOTHING and len(raw) > 0


def _slot(raw: msgspec.Raw, observations: bool) -> Any:
    """One prefetch value. An Observation search's Bundle is decoded typed in one go; if one
    of its resources does not fit, entry by entry, so only that one is plain JSON."""
    if observations:
        try:
            typed = _TYPED.decode(raw)
        except _ERRORS:
            typed = None
        if typed is not None and typed.resourceType == "Bundle":
            return _typed_bundle(typed)
        if typed is None:
            try:
                loose = _RAW.decode(raw)
            except _ERRORS:
                loose = None
            if loose is not None and _given(loose.resourceType):
                if _plain(loose.resourceType) == "Bundle":
                    return _bundle(loose)
    return _plain(raw)


def _head(bundle: _TypedBundle | _RawBundle) -> dict[str, Any]:
    found: dict[str, Any] = {"resourceType": "Bundle"}
    for name in ("type", "total", "link"):
        value = getattr(bundle, name)
        if _given(value):
            found[name] = _plain(value)
    return found


def _typed_bundle(bundle: _TypedBundle) -> dict[str, Any]:
    """The Bundle with its entries as decoded (`wire.observation.Entry`): the data layer
    reads their resources and search modes without a dict being built for each."""
    found = _head(bundle)
    if not isinstance(bundle.entry, msgspec.UnsetType):
        found["entry"] = bundle.entry
    return found


def _bundle(bundle: _RawBundle) -> dict[str, Any]:
    """Entry by entry: each resource typed if it fits, else plain JSON."""
    found = _head(bundle)
    if isinstance(bundle.entry, msgspec.UnsetType):
        return found
    entries: list[dict[str, Any]] = []
    for item in bundle.entry:
        entry: dict[str, Any] = {}
        if _given(item.fullUrl):
            entry["fullUrl"] = _plain(item.fullUrl)
        if _given(item.search):
            entry["search"] = _plain(item.search)
        if _given(item.resource):
            entry["resource"] = observation(item.resource) or _plain(item.resource)
        entries.append(entry)
    found["entry"] = entries
    return found


def _plain(raw: msgspec.Raw) -> Any:
    try:
        return orjson.loads(memoryview(raw))
    except orjson.JSONDecodeError:  # e.g. nested deeper than orjson goes: say it the plain way
        raise _Fallback from None
