"""The response schema is the strict writer's yardstick: it must reject every sloppy output."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from cds_service.protocol.catalog import first_error, load_catalog
from tests.support.schemas import assert_valid_response

UUID_A = "0f0c6b0e-4d7e-4a5c-9a53-2c4f1f1f0a01"
UUID_B = "8b1f5a4e-7c1e-4a39-b7a0-5d6f2f7c9e11"


def full_card() -> dict[str, Any]:
    return {
        "uuid": UUID_A,
        "summary": "Folic acid ordered without B12 cover",
        "detail": "- B12 132 pmol/L on 2026-10-01",
        "indicator": "critical",
        "source": {
            "label": "BNF/SmPC folic acid",
            "url": "https://bnf.nice.org.uk/drugs/folic-acid/",
            "topic": {
                "system": "https://b12-cds.example.org/rules",
                "code": "folic-acid-without-b12",
                "display": "Folic acid without B12",
            },
        },
        "selectionBehavior": "at-most-one",
        "suggestions": [
            {
                "label": "Remove the folic acid order",
                "uuid": UUID_B,
                "isRecommended": True,
                "actions": [
                    {
                        "type": "delete",
                        "description": "Remove draft folic acid",
                        "resourceId": "MedicationRequest/request-123",
                    },
                    {
                        "type": "create",
                        "description": "Hydroxocobalamin 1 mg IM",
                        "resource": {
                            "resourceType": "MedicationRequest",
                            "status": "draft",
                            "intent": "proposal",
                            "subject": {"reference": "Patient/pat-1"},
                        },
                    },
                ],
            }
        ],
        "overrideReasons": [
            {"system": "https://b12-cds.example.org/override", "code": "x", "display": "X"}
        ],
        "links": [
            {
                "label": "NICE NG239",
                "url": "https://www.nice.org.uk/guidance/ng239",
                "type": "absolute",
            }
        ],
    }


def test_a_complete_card_and_an_empty_answer_are_valid() -> None:
    assert_valid_response({"cards": [full_card()]})
    assert_valid_response({"cards": []})


def _break(path: list[Any], value: Any) -> dict[str, Any]:
    card = copy.deepcopy(full_card())
    target: Any = card
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return {"cards": [card]}


BROKEN = [
    ("null detail", ["detail"], None),
    ("empty detail", ["detail"], ""),
    ("summary of 140 characters", ["summary"], "x" * 140),
    ("unknown indicator", ["indicator"], "hard-stop"),
    ("no uuid", ["uuid"], KeyError),
    ("no source label", ["source", "label"], KeyError),
    ("no topic", ["source", "topic"], KeyError),
    ("empty links", ["links"], []),
    ("suggestions without selectionBehavior", ["selectionBehavior"], KeyError),
    ("override reason without display", ["overrideReasons", 0, "display"], KeyError),
    ("action without description", ["suggestions", 0, "actions", 0, "description"], KeyError),
    ("delete without resourceId", ["suggestions", 0, "actions", 0, "resourceId"], KeyError),
    ("create without resource", ["suggestions", 0, "actions", 1, "resource"], KeyError),
    ("empty list in a resource", ["suggestions", 0, "actions", 1, "resource", "note"], []),
    ("null in a resource", ["suggestions", 0, "actions", 1, "resource", "intent"], None),
    ("empty object in a resource", ["suggestions", 0, "actions", 1, "resource", "meta"], {}),
    ("appContext on an absolute link", ["links", 0, "appContext"], "x"),
    ("unknown card field", ["flavour"], "vanilla"),
]


@pytest.mark.parametrize(("case", "path", "value"), BROKEN, ids=[b[0] for b in BROKEN])
def test_sloppy_output_is_rejected(case: str, path: list[Any], value: Any) -> None:
    assert first_error(load_catalog().response, _break(path, value), "response") is not None


def test_two_recommended_suggestions_need_selection_any() -> None:
    body = _break(["suggestions"], [dict(full_card()["suggestions"][0])] * 2)
    assert first_error(load_catalog().response, body, "response") is not None
    body["cards"][0]["selectionBehavior"] = "any"
    assert first_error(load_catalog().response, body, "response") is None


def test_every_service_definition_is_a_valid_discovery_entry() -> None:
    catalog = load_catalog()
    assert first_error(catalog.discovery, catalog.discovery_document(), "discovery") is None
    assert [s.hook for s in catalog.services].count("patient-view") == 1
