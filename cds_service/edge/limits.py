"""Shape limits on a decoded JSON body, checked before schema validation or any reading.

The body size is already capped (413); these bound the work a body within that size can
cause: how deep it nests (schema validation and the FHIR reader recurse), how long one
array is, and how many FHIR resources it holds in all. Far above anything a real EHR
sends; a body over them is a 400 that names the limit.
"""

from __future__ import annotations

from typing import Any

from cds_service.protocol.errors import BadRequest

MAX_DEPTH = 64
MAX_ARRAY_ITEMS = 10_000
MAX_RESOURCES = 100_000
_CONTAINERS = frozenset({dict, list})


def check_shape(
    data: Any,
    what: str = "request",
    *,
    max_depth: int = MAX_DEPTH,
    max_items: int = MAX_ARRAY_ITEMS,
    max_resources: int = MAX_RESOURCES,
) -> None:
    """Raise BadRequest if `data` nests deeper, or holds longer arrays or more resources.

    `data` is decoded JSON (plain dicts and lists). The walk goes one nesting level at a
    time, collecting the next level's containers with a comprehension: every node is
    visited once, with no per-node tuple or stack push (this runs on every hook call).
    """
    resources = 0
    level: list[Any] = [data] if isinstance(data, dict | list) else []
    depth = 0
    while level:
        depth += 1
        if depth > max_depth:
            raise BadRequest(f"{what} nests deeper than {max_depth} levels")
        below: list[Any] = []
        extend = below.extend
        for node in level:
            if isinstance(node, dict):
                if "resourceType" in node:
                    resources += 1
                    if resources > max_resources:
                        raise BadRequest(f"{what} holds more than {max_resources} FHIR resources")
                children: Any = node.values()
            else:
                if len(node) > max_items:
                    raise BadRequest(f"{what} has an array of more than {max_items} items")
                children = node
            extend([c for c in children if type(c) in _CONTAINERS])
        level = below
