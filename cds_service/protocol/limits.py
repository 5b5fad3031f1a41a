"""Shape limits on a decoded JSON body, checked before schema validation or any reading.

The body size is already capped (413); these bound the work a body within that size can
cause: how deep it nests (schema validation recurses, and JSON written back out must
stay within the encoder's depth), how long one array is, and how many FHIR resources it
holds in all. Far above anything a real EHR sends; a body over them is a 400 that names
the limit.

A hook call's prefetch is most of its bytes and is never walked whole: only its Bundles'
entry counts are checked. Nothing in the service recurses into a prefetched resource
(the reader follows fixed paths, and Bundles nested in Bundles are opened to a fixed
depth), and the few resources the service may echo back in a suggestion pass
`within_shape` first. So the per-call cost of these checks follows the envelope and the
draft orders, not the size of the patient's history.
"""

from __future__ import annotations

from typing import Any

from cds_service.protocol.errors import BadRequest

MAX_DEPTH = 64
MAX_ARRAY_ITEMS = 10_000
MAX_RESOURCES = 100_000
_CONTAINERS = frozenset({dict, list})


def check_request_shape(data: Any, what: str = "request") -> None:
    """`check_shape` for a hook call: the envelope and context whole, prefetch by entry count."""
    prefetch = data.get("prefetch") if isinstance(data, dict) else None
    if not isinstance(prefetch, dict):
        check_shape(data, what)
        return
    resources = check_shape({k: v for k, v in data.items() if k != "prefetch"}, what)
    for value in prefetch.values():
        if not isinstance(value, dict):
            check_shape(value, what)  # not a resource: the schema will say so; keep it small
            continue
        entry = value.get("entry")
        if isinstance(entry, list):
            if len(entry) > MAX_ARRAY_ITEMS:
                raise BadRequest(f"{what} has an array of more than {MAX_ARRAY_ITEMS} items")
            resources += len(entry)
        resources += 1
        if resources > MAX_RESOURCES:
            raise BadRequest(f"{what} holds more than {MAX_RESOURCES} FHIR resources")


def within_shape(resource: Any) -> bool:
    """True if `resource` keeps to the shape limits (checked before echoing it back)."""
    try:
        check_shape(resource)
    except BadRequest:
        return False
    return True


def check_shape(
    data: Any,
    what: str = "request",
    *,
    max_depth: int = MAX_DEPTH,
    max_items: int = MAX_ARRAY_ITEMS,
    max_resources: int = MAX_RESOURCES,
) -> int:
    """Raise BadRequest if `data` nests deeper, or holds longer arrays or more resources;
    else return how many resources it holds.

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
    return resources
