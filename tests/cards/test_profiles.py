"""cards.profiles: a card fitted to what each client can show and apply."""

from __future__ import annotations

import copy
from typing import Any

from cds_service.cards.profiles import GENERIC, PROFILES, fit


def action(kind: str, what: str) -> dict[str, Any]:
    if kind == "delete":
        return {"type": "delete", "description": what, "resourceId": "MedicationRequest/d1"}
    return {"type": kind, "description": what, "resource": {"resourceType": "MedicationRequest"}}


def card(selection: str, *suggestions: dict[str, Any], links: bool = False) -> dict[str, Any]:
    made: dict[str, Any] = {
        "summary": "s",
        "indicator": "warning",
        "source": {"label": "x"},
        "suggestions": list(suggestions),
        "selectionBehavior": selection,
    }
    if links:
        made["links"] = [{"label": "Guideline", "url": "https://example.org", "type": "absolute"}]
    return made


def suggestion(label: str, *actions: dict[str, Any], recommended: bool = False) -> dict[str, Any]:
    made: dict[str, Any] = {"label": label, "uuid": label, "actions": list(actions)}
    if recommended:
        made["isRecommended"] = True
    return made


ALTERNATIVES = card(
    "at-most-one",
    suggestion("Every 8 weeks", action("update", "8 weeks"), recommended=True),
    suggestion("Every 4 weeks", action("update", "4 weeks")),
)
LABS = suggestion(
    "Order MMA and folate", action("create", "Order MMA"), action("create", "Order folate")
)
SWAP = suggestion(
    "Replace with IM",
    action("create", "Order IM"),
    action("delete", "Remove oral"),
    recommended=True,
)


def test_generic_leaves_every_card_as_written() -> None:
    for written in (ALTERNATIVES, card("any", LABS, SWAP, links=True)):
        assert fit(copy.deepcopy(written), GENERIC) == written


def test_epic_keeps_one_alternative_and_says_any() -> None:
    fitted = fit(copy.deepcopy(ALTERNATIVES), PROFILES["epic"])
    assert fitted["selectionBehavior"] == "any"
    assert [s["label"] for s in fitted["suggestions"]] == ["Every 8 weeks"]


def test_epic_splits_actions_into_suggestions_and_never_offers_a_swaps_delete_alone() -> None:
    fitted = fit(copy.deepcopy(card("at-most-one", LABS)), PROFILES["epic"])
    assert fitted["selectionBehavior"] == "any"
    assert [(s["label"], len(s["actions"])) for s in fitted["suggestions"]] == [
        ("Order MMA", 1),
        ("Order folate", 1),
    ]
    assert len({s["uuid"] for s in fitted["suggestions"]}) == 2
    fitted = fit(copy.deepcopy(card("any", SWAP)), PROFILES["epic"])
    assert [(s["label"], s.get("isRecommended")) for s in fitted["suggestions"]] == [
        ("Order IM", True)
    ]
    lone = suggestion("Remove the folic acid order", action("delete", "Remove folic acid"))
    assert fit(copy.deepcopy(card("any", lone)), PROFILES["epic"])["suggestions"] == [lone]


def test_oracle_turns_any_into_at_most_one_with_one_recommendation() -> None:
    independent = card(
        "any",
        suggestion("Add IM", action("create", "IM"), recommended=True),
        suggestion("Order tests", action("create", "tests"), recommended=True),
    )
    fitted = fit(independent, PROFILES["oracle"])
    assert fitted["selectionBehavior"] == "at-most-one"
    assert [s.get("isRecommended") for s in fitted["suggestions"]] == [True, None]


def test_links_stay_only_where_the_client_shows_them() -> None:
    for name, profile in PROFILES.items():
        fitted = fit(copy.deepcopy(card("any", LABS, links=True)), profile)
        assert ("links" in fitted) is profile.links, name


def test_a_card_left_without_suggestions_has_no_selection_behavior() -> None:
    only_long = card("at-most-one", LABS)
    strict = PROFILES["oracle"].__class__(
        "strict", 1, frozenset({"at-most-one"}), True, True, "gfm"
    )
    fitted = fit(only_long, strict)
    assert "suggestions" not in fitted and "selectionBehavior" not in fitted
