"""Finding -> CDS Hooks 2.0 card JSON (skeleton: the full renderer replaces this body)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from cds_service.rules.base import Finding


@dataclass(frozen=True, slots=True)
class RenderContext:
    patient_id: str
    hook: str
    today: date
    encounter_id: str | None = None
    user_id: str | None = None
    # raw resources a suggestion may update, by "Type/id" (draft orders, record orders)
    resources: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def render_cards(findings: Sequence[Finding], ctx: RenderContext) -> list[dict[str, Any]]:
    return []
