"""Type-safe accessors over untrusted JSON: every helper answers None rather than raising.

FHIR JSON from real servers and clients breaks its own schema (an object where a list
belongs, numbers as strings, NaN); the reader asks through these so one odd field costs
that field only, never the hook call.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

JSON = Mapping[str, Any]

_NUMBER_TEXT = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,3})?\s*$")

# Equivalent spellings of the code systems the policy uses (OIDs, trailing slashes).
_SYSTEM_ALIASES = {
    "urn:oid:2.16.840.1.113883.6.1": "http://loinc.org",
    "https://loinc.org": "http://loinc.org",
    "urn:oid:2.16.840.1.113883.6.96": "http://snomed.info/sct",
    "https://snomed.info/sct": "http://snomed.info/sct",
    "urn:oid:2.16.840.1.113883.6.88": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "https://www.nlm.nih.gov/research/umls/rxnorm": "http://www.nlm.nih.gov/research/umls/rxnorm",
}
CANONICAL_SYSTEMS = frozenset(_SYSTEM_ALIASES.values())


def obj(value: Any) -> JSON | None:
    """The value if it is a JSON object."""
    if type(value) is dict:  # the fast path: parsed JSON is plain dicts
        return value
    if value is None:  # an absent field, before the (slow) abstract-class check
        return None
    return value if isinstance(value, Mapping) else None


def first_obj(value: Any) -> JSON | None:
    """The first object of a list, or the value itself when a client sent one object."""
    if type(value) is dict:
        return value
    if value is None:
        return None
    if isinstance(value, Mapping):
        return value
    if isinstance(value, list):
        for item in value:
            if type(item) is dict or isinstance(item, Mapping):
                return item
    return None


def objs(value: Any) -> Iterator[JSON]:
    """The objects of a list (a lone object counts as a list of one)."""
    if type(value) is list:
        for item in value:
            if type(item) is dict or isinstance(item, Mapping):
                yield item
    elif value is not None and isinstance(value, Mapping):
        yield value


def text(value: Any) -> str | None:
    """A non-blank string, stripped."""
    if type(value) is str or isinstance(value, str):
        stripped = value.strip()
        return stripped or None
    return None


def code(value: Any) -> str | None:
    """A FHIR code (status, intent...) lower-cased; also reads a CodeableConcept."""
    found = text(value)
    if found is not None:
        return found.lower()
    concept = obj(value)
    if concept is not None:
        for coding in objs(concept.get("coding")):
            found = text(coding.get("code"))
            if found is not None:
                return found.lower()
    return None


def number(value: Any) -> float | None:
    """A finite number (numeric strings accepted; booleans, NaN and infinities are not)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        try:
            result = float(value)
        except OverflowError:
            return None
    elif isinstance(value, float):
        result = value
    elif isinstance(value, str) and len(value) < 40 and _NUMBER_TEXT.match(value):
        try:
            result = float(value)
        except (ValueError, OverflowError):
            return None
    else:
        return None
    return result if math.isfinite(result) else None


def integer(value: Any) -> int | None:
    """A whole number that fits in a sane range."""
    found = number(value)
    if found is None or not found.is_integer() or abs(found) > 1e12:
        return None
    return int(found)


def system_of(value: Any) -> str | None:
    """A coding system, with common aliases mapped to the URL the policy uses."""
    found = text(value)
    if found is None:
        return None
    found = found.rstrip("/")
    return _SYSTEM_ALIASES.get(found, found)


def coding_keys(concept: Any) -> Iterator[str]:
    """Each coding of a CodeableConcept as "system|code"."""
    found = obj(concept)
    if found is None:
        return
    for coding in objs(found.get("coding")):
        key = coding_key(coding.get("system"), coding.get("code"))
        if key is not None:
            yield key


def coding_key(system: Any, value: Any) -> str | None:
    """One coding as "system|code", or None."""
    if (
        type(system) is str
        and system in CANONICAL_SYSTEMS
        and type(value) is str
        and value
        and value == value.strip()
    ):
        return f"{system}|{value}"  # the common case, without normalising
    system, value = system_of(system), text(value)
    if system is not None and value is not None:
        return f"{system}|{value}"
    return None


def concept_texts(concept: Any) -> Iterator[str]:
    """The human words of a CodeableConcept: its text, then each coding's display."""
    found = obj(concept)
    if found is None:
        return
    label = text(found.get("text"))
    if label is not None:
        yield label
    for coding in objs(found.get("coding")):
        display = text(coding.get("display"))
        if display is not None:
            yield display


def reference(value: Any) -> str | None:
    """The `reference` string of a Reference (a bare string is tolerated)."""
    found = text(value)
    if found is not None:
        return found
    ref = obj(value)
    return text(ref.get("reference")) if ref is not None else None
