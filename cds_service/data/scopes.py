"""What `fhirAuthorization.scope` lets the service read: SMART App Launch v1 and v2 syntax.

CDS Hooks 1.0/2.0 tokens carry SMART v1 scopes (`user/Observation.read`, `patient/*.read`,
`user/Observation.*`); the CDS Hooks 3.0 ballot moves to SMART v2 (`user/Observation.rs`,
`patient/*.cruds`, and narrowed scopes such as `user/Observation.rs?category=laboratory`).
Both are read here. A search needs v1 `read` (or `*`) or v2 `s`; an instance read needs v1
`read` or v2 `r`. A scope string with no resource scopes at all (e.g. only `openid`) is not
taken as a refusal: the server decides. A narrowed v2 scope is a permission to a part of the
data only, so a search it governs may come back incomplete, and is reported so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# context/resource.permissions[?query]; v1 permissions are read|write|*, v2 a subset of cruds
_SCOPE = re.compile(
    r"^(?P<context>patient|user|system)/(?P<resource>\*|[A-Z][A-Za-z]{1,63})"
    r"\.(?P<permissions>read|write|\*|c?r?u?d?s?)(?:\?(?P<query>.+))?$"
)


@dataclass(frozen=True, slots=True)
class Grant:
    resource: str  # a resource type, or "*"
    read: bool  # an instance read
    search: bool  # a type-level search
    narrowed: str | None = None  # v2 query restriction ("category=laboratory")


@dataclass(frozen=True, slots=True)
class Access:
    """The resource grants of one token; `granted` is False when the scope names none."""

    grants: tuple[Grant, ...] = ()

    @property
    def granted(self) -> bool:
        return bool(self.grants)

    def allows(self, resource_type: str, *, search: bool) -> bool:
        if not self.grants:
            return True  # no resource scopes at all: not ours to refuse
        return any(
            g.resource in ("*", resource_type) and (g.search if search else g.read)
            for g in self.grants
        )

    def narrowing(self, resource_type: str, *, search: bool) -> str | None:
        """The restriction a search of `resource_type` runs under, if every grant narrows it."""
        fitting = [
            g
            for g in self.grants
            if g.resource in ("*", resource_type) and (g.search if search else g.read)
        ]
        if not fitting or any(g.narrowed is None for g in fitting):
            return None
        return fitting[0].narrowed


def parse_scope(scope: str | None) -> Access:
    """The resource grants in a space-separated scope string (others, e.g. `launch`, ignored)."""
    if not scope:
        return Access()
    grants: list[Grant] = []
    for item in scope.split()[:200]:
        match = _SCOPE.match(item)
        if match is None:
            continue
        permissions = match["permissions"]
        if permissions in ("read", "*"):
            read = search = True
        elif permissions == "write":
            read = search = False
        elif permissions:
            read, search = "r" in permissions, "s" in permissions
        else:
            continue
        query = match["query"]
        grants.append(Grant(match["resource"], read, search, query[:200] if query else None))
    return Access(tuple(grants))
