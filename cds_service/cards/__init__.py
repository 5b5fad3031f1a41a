"""The cards layer: findings -> CDS Hooks cards with valid FHIR R4 suggestions."""

from cds_service.cards.render import RenderContext, render_cards

__all__ = ["RenderContext", "render_cards"]
