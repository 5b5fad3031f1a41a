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


def check_shape(
    data: Any,
    what: str = "request",
    *,
    max_depth: int = MAX_DEPTH,
    max_items: int = MAX_ARRAY_ITEMS,
    max_resources: int = MAX_RESOURCES,
) -> None:
    """Raise BadRequest if `data` nests deeper, or holds longer arrays or more resources."""
    resources = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
            if "resourceType" in node:
                resources += 1
                if resources > max_resources:
                    raise BadRequest(f"{what} holds more than {max_resources} FHIR resources")
        elif isinstance(node, list):
            if len(node) > max_items:
                raise BadRequest(f"{what} has an array of more than {max_items} items")
            children = node
        else:
            continue
        if depth > max_depth:
            raise BadRequest(f"{what} nests deeper than {max_depth} levels")
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
