"""Card profiles: what each kind of CDS client can do with a card, and the card made to fit.

Clients implement CDS Hooks in part. The CDS Hooks Sandbox applies only the first action of
a suggestion; Epic takes `selectionBehavior` `any` only and has no MedicationRequest update
among its CDS Hooks actions; Oracle Health documents CDS Hooks 1.0 cards (where
`selectionBehavior` is `at-most-one` only). A trusted client names its profile
(B12CDS_TRUSTED_CLIENTS `profile`, default `generic`) and every card it gets is fitted:

- an order change a client cannot apply as an update is offered as create-then-delete of a
  draft (never delete first), or not at all for an order in the record (`update_orders`);
- a card whose `selectionBehavior` the client does not understand is rewritten: alternatives
  ("at most one of these") become the single recommended one when only `any` is understood;
  independent options under `any` stay, one selectable, when only `at-most-one` is;
- a suggestion with more actions than the client applies is split into one suggestion per
  action (each complete in itself: the actions were written so that any prefix is safe),
  except the delete that ends a swap, which chosen alone would leave no order in its place;
- links are left out where the client does not show them (or needs them registered).

Markdown: every client here renders GitHub-flavoured markdown; the sandbox renders raw HTML
too, so the renderer escapes record text for the strictest of them, and `markdown` only
records what each client does.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

AT_MOST_ONE, ANY = "at-most-one", "any"


@dataclass(frozen=True, slots=True)
class CardProfile:
    name: str
    max_actions: int | None  # actions per suggestion the client applies; None: all
    selection: frozenset[str]  # selectionBehavior values the client understands
    links: bool  # whether cards may carry links
    update_orders: bool  # whether a suggestion may `update` a MedicationRequest
    markdown: Literal["gfm", "gfm-html"]  # what the client renders in `detail`


PROFILES: Mapping[str, CardProfile] = {
    "generic": CardProfile("generic", None, frozenset({AT_MOST_ONE, ANY}), True, True, "gfm"),
    "epic": CardProfile("epic", 1, frozenset({ANY}), False, False, "gfm"),
    "oracle": CardProfile("oracle", None, frozenset({AT_MOST_ONE}), False, True, "gfm"),
    "sandbox": CardProfile("sandbox", 1, frozenset({AT_MOST_ONE, ANY}), True, True, "gfm-html"),
}
GENERIC = PROFILES["generic"]


def fit(card: dict[str, Any], profile: CardProfile) -> dict[str, Any]:
    """`card` as `profile`'s client can show and apply it (changed in place, and returned)."""
    if "links" in card and not profile.links:
        del card["links"]
    suggestions: list[dict[str, Any]] = card.get("suggestions", [])
    if not suggestions:
        return card
    selection = card["selectionBehavior"]
    if selection not in profile.selection:
        if selection == AT_MOST_ONE:  # alternatives, and the client cannot keep them apart
            suggestions = [_recommended(suggestions)]
        selection = next(iter(sorted(profile.selection)))
    limit = profile.max_actions
    if limit is not None and any(len(s["actions"]) > limit for s in suggestions):
        if ANY in profile.selection:
            if selection == AT_MOST_ONE and len(suggestions) > 1:
                suggestions = [_recommended(suggestions)]
            suggestions = [part for s in suggestions for part in _split(s, limit)]
            selection = ANY
        else:  # the parts could not all be chosen: offer only what fits whole
            suggestions = [s for s in suggestions if len(s["actions"]) <= limit]
    if selection == AT_MOST_ONE:
        _one_recommended(suggestions)
    if suggestions:
        card["suggestions"] = suggestions
        card["selectionBehavior"] = selection
    else:
        del card["suggestions"]
        del card["selectionBehavior"]
    return card


def _recommended(suggestions: list[dict[str, Any]]) -> dict[str, Any]:
    return next((s for s in suggestions if s.get("isRecommended")), suggestions[0])


def _split(suggestion: dict[str, Any], limit: int) -> list[dict[str, Any]]:
    """One suggestion per `limit` actions, each labelled by what it does.

    The delete that ends a swap (create the new order, then delete the old draft) is not
    offered on its own: chosen alone it would remove therapy with nothing in its place. The
    old draft stays, and the next hook call says so again until the clinician removes it.
    """
    actions = suggestion["actions"]
    if len(actions) <= limit:
        return [suggestion]
    if any(a["type"] == "create" for a in actions):
        actions = [a for a in actions if a["type"] != "delete"]
    parts = []
    for start in range(0, len(actions), limit):
        chunk = actions[start : start + limit]
        part: dict[str, Any] = {
            "label": "; ".join(a["description"] for a in chunk),
            "uuid": str(uuid.uuid4()),
            "actions": chunk,
        }
        if suggestion.get("isRecommended"):
            part["isRecommended"] = True
        parts.append(part)
    return parts


def _one_recommended(suggestions: list[dict[str, Any]]) -> None:
    seen = False
    for suggestion in suggestions:
        if suggestion.get("isRecommended"):
            if seen:
                del suggestion["isRecommended"]
            seen = True
