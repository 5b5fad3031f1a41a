"""A CDS Hooks 2.0 service for vitamin B12 deficiency care after loading treatment.

`create_app` is imported lazily so that importing a pure layer (record, rules) does not
pull in Flask and the whole web stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cds_service.edge.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from cds_service.edge.app import create_app

        return create_app
    raise AttributeError(f"module 'cds_service' has no attribute {name!r}")
