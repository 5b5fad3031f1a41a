"""Any prefix of a suggestion's actions leaves a safe state: clients that apply only part of it.

The CDS Hooks Sandbox applies only the first action of a suggestion (its TAKE_SUGGESTION
reducer returns on the first create, update or delete it acts on), and Epic applies one
action per suggestion. So for every fixture in `fixtures/` (whatever they are called), every
suggestion of every card the real service answers with is applied action by action, from the
first alone to all of them, to the client's state: the draft orders and the record's
medication orders. No prefix may leave a patient who had a B12 order (a draft or an active
one) without one, every update or delete must name something the client holds, a suggestion
with several actions never starts with a delete, and the hook called again on the state after
the first action alone answers 200. B12 is recognised here by the drug's name, independently
of the service's reader.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from cds_service.cards.profiles import PROFILES
from cds_service.edge.evaluation import Evaluator
from cds_service.policy import load_policy
from cds_service.protocol.catalog import load_catalog
from cds_service.protocol.errors import DataUnavailable
from cds_service.protocol.request import hook_request_from
from cds_service.settings import Settings
from tests.support.frozen_serve import FROZEN_TODAY
from tests.support.hook_calls import call_hook
from tests.support.live import LiveService
from tests.support.schemas import assert_valid_response

REPO = Path(__file__).resolve().parents[2]
REQUESTS = sorted((REPO / "fixtures").glob("*/request.json"))
B12_WORDS = re.compile(r"cobalamin|cobamamide|\bb12\b", re.IGNORECASE)
ENDED = frozenset({"stopped", "cancelled", "entered-in-error", "completed"})


def _texts(concept: Any) -> Iterator[str]:
    if isinstance(concept, dict):
        if isinstance(concept.get("text"), str):
            yield concept["text"]
        for coding in concept.get("coding") or []:
            if isinstance(coding, dict) and isinstance(coding.get("display"), str):
                yield coding["display"]


@dataclass
class ClientState:
    """What a client holds that a suggestion can change: orders by "Type/id"."""

    orders: dict[str, dict[str, Any]]
    drafts: list[str]  # refs that are draft orders of this order session
    medications: dict[str, dict[str, Any]] = field(default_factory=dict)  # "Medication/id"

    @classmethod
    def of(cls, request: Mapping[str, Any]) -> ClientState:
        orders: dict[str, dict[str, Any]] = {}
        drafts: list[str] = []
        medications: dict[str, dict[str, Any]] = {}
        context = request["context"]
        for entry in (context.get("draftOrders") or {}).get("entry") or []:
            resource = entry.get("resource") or {}
            ref = f"{resource.get('resourceType')}/{resource.get('id')}"
            if resource.get("resourceType") == "Medication":
                medications[ref] = resource
            else:
                orders[ref] = copy.deepcopy(resource)
                drafts.append(ref)
        for value in (request.get("prefetch") or {}).values():
            for entry in (value or {}).get("entry") or [] if isinstance(value, dict) else []:
                resource = entry.get("resource") or {}
                ref = f"{resource.get('resourceType')}/{resource.get('id')}"
                if resource.get("resourceType") == "Medication":
                    medications[ref] = resource
                elif resource.get("resourceType") == "MedicationRequest":
                    orders.setdefault(ref, copy.deepcopy(resource))
        return cls(orders, drafts, medications)

    def applied(self, actions: list[dict[str, Any]], label: str) -> ClientState:
        state = ClientState(copy.deepcopy(self.orders), list(self.drafts), self.medications)
        for action in actions:
            kind = action["type"]
            if kind == "create":
                resource = copy.deepcopy(action["resource"])
                ref = f"{resource['resourceType']}/new-{uuid.uuid4()}"
                state.orders[ref] = resource
                state.drafts.append(ref)
            elif kind == "update":
                resource = action["resource"]
                ref = f"{resource['resourceType']}/{resource['id']}"
                assert ref in state.orders, (
                    f"{label!r} updates {ref}, which the client does not hold"
                )
                state.orders[ref] = copy.deepcopy(resource)
            else:
                ref = action["resourceId"]
                assert ref in state.orders, (
                    f"{label!r} deletes {ref}, which the client does not hold"
                )
                del state.orders[ref]
                state.drafts.remove(ref) if ref in state.drafts else None
        return state

    def is_b12(self, order: Mapping[str, Any]) -> bool:
        names = list(_texts(order.get("medicationCodeableConcept")))
        reference = order.get("medicationReference") or {}
        if isinstance(reference.get("display"), str):
            names.append(reference["display"])
        ref = reference.get("reference")
        if isinstance(ref, str):
            contained = {
                f"#{c.get('id')}": c
                for c in order.get("contained") or []
                if c.get("resourceType") == "Medication"
            }
            medication = contained.get(ref) or self.medications.get(ref)
            if medication is not None:
                names += list(_texts(medication.get("code")))
        return any(B12_WORDS.search(name) for name in names)

    def b12_cover(self) -> bool:
        return any(
            ref.startswith("MedicationRequest/")
            and order.get("status") not in ENDED
            and self.is_b12(order)
            for ref, order in self.orders.items()
        )

    def request(self, original: Mapping[str, Any]) -> dict[str, Any] | None:
        """The hook call a client makes next, on this state (None: no order left to call on)."""
        body = copy.deepcopy(dict(original))
        body["hookInstance"] = str(uuid.uuid4())
        context = body["context"]
        if "draftOrders" in context:
            if not self.drafts:
                return None
            entries = [{"resource": self.orders[r]} for r in self.drafts]
            kept = [
                e
                for e in context["draftOrders"].get("entry") or []
                if (e.get("resource") or {}).get("resourceType") == "Medication"
            ]
            context["draftOrders"]["entry"] = entries + kept
            if "selections" in context:
                present = [s for s in context["selections"] if s in self.drafts]
                context["selections"] = present or [self.drafts[-1]]
        medrequests = (body.get("prefetch") or {}).get("medrequests")
        if isinstance(medrequests, dict):
            medications = [
                e
                for e in medrequests.get("entry") or []
                if (e.get("resource") or {}).get("resourceType") == "Medication"
            ]
            record = [
                {"resource": o}
                for ref, o in self.orders.items()
                if ref.startswith("MedicationRequest/") and ref not in self.drafts
            ]
            medrequests["entry"] = record + medications
            if not medrequests["entry"]:
                del medrequests["entry"]
        return body


def suggestions_of(cards: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for card in cards:
        for suggestion in card.get("suggestions", []):
            yield card["source"]["topic"]["code"], suggestion


def check_prefixes(
    state: ClientState, cards: list[dict[str, Any]], where: str
) -> list[ClientState]:
    """Every prefix of every suggestion; returns the states after each first action alone."""
    after_first: list[ClientState] = []
    for rule, suggestion in suggestions_of(cards):
        actions, label = suggestion["actions"], f"{where} {rule}: {suggestion['label']}"
        if len(actions) > 1:
            assert actions[0]["type"] != "delete", f"{label!r} deletes before it creates"
        for n in range(1, len(actions) + 1):
            after = state.applied(actions[:n], label)
            if state.b12_cover():
                assert after.b12_cover(), f"the first {n} action(s) of {label!r} leave no B12 order"
            if n == 1:
                after_first.append(after)
    return after_first


@pytest.mark.parametrize("path", REQUESTS, ids=[p.parent.name for p in REQUESTS])
def test_every_prefix_of_every_suggestion_leaves_a_safe_state(
    path: Path, frozen_server: LiveService
) -> None:
    request = json.loads(path.read_text(encoding="utf-8"))
    response = call_hook(frozen_server.base_url, request)
    if response.status_code != 200:
        pytest.skip(f"the fixture answers {response.status_code}")
    state = ClientState.of(request)
    for after in check_prefixes(state, response.json()["cards"], path.parent.name):
        body = after.request(request)
        if body is not None:
            again = call_hook(frozen_server.base_url, body)
            assert again.status_code == 200, again.text


def test_the_check_catches_a_delete_before_the_create() -> None:
    """The control: the old "replace" (delete the oral B12 draft, then create the IM order)."""
    oral = {
        "resourceType": "MedicationRequest",
        "id": "request-123",
        "status": "draft",
        "medicationCodeableConcept": {"text": "cyanocobalamin 1 MG Oral Tablet"},
    }
    request = {"context": {"draftOrders": {"entry": [{"resource": oral}]}}}
    im = {**oral, "id": None, "medicationCodeableConcept": {"text": "hydroxocobalamin 1 MG/ML"}}
    old = {
        "label": "Replace with hydroxocobalamin 1 mg IM",
        "actions": [
            {"type": "delete", "resourceId": "MedicationRequest/request-123"},
            {"type": "create", "resource": im},
        ],
    }
    card = {"source": {"topic": {"code": "oral-b12-in-malabsorption"}}, "suggestions": [old]}
    with pytest.raises(AssertionError, match="deletes before it creates"):
        check_prefixes(ClientState.of(request), [card], "control")
    old["actions"] = old["actions"][:1]  # the first action alone, as the sandbox applies it
    with pytest.raises(AssertionError, match="leave no B12 order"):
        check_prefixes(ClientState.of(request), [card], "control")


def evaluator() -> Evaluator:
    return Evaluator(load_catalog(), load_policy(), Settings(), lambda: FROZEN_TODAY)


@pytest.mark.parametrize("name", sorted(set(PROFILES) - {"generic"}))
def test_every_fixture_fits_each_client_profile_and_stays_prefix_safe(name: str) -> None:
    """In process (the profile comes from the trust file over HTTP; tests/ehr_shapes)."""
    profile, catalog, run = PROFILES[name], load_catalog(), evaluator()
    seen = 0
    for path in REQUESTS:
        request = json.loads(path.read_text(encoding="utf-8"))
        service = catalog.service_for_hook(request["hook"])
        assert service is not None
        try:
            response = run.evaluate(service, hook_request_from(request, service, catalog), profile)
        except DataUnavailable:
            continue
        assert_valid_response(response.response)
        cards = response.response["cards"]
        for card in cards:
            assert "links" not in card or profile.links
            if "suggestions" not in card:
                continue
            assert card["selectionBehavior"] in profile.selection
            for suggestion in card["suggestions"]:
                seen += 1
                assert (
                    profile.max_actions is None or len(suggestion["actions"]) <= profile.max_actions
                )
                assert suggestion["uuid"] and suggestion["label"]
                if not profile.update_orders:
                    assert not any(
                        a["type"] == "update"
                        and a["resource"]["resourceType"] == "MedicationRequest"
                        for a in suggestion["actions"]
                    )
        check_prefixes(ClientState.of(request), cards, f"{name} {path.parent.name}")
    assert seen > 10  # the fixtures do give suggestions
