"""Fixture scenarios as FHIR server data, and the three ways the suite sends each one.

`fixtures/<scenario>/request.json` carries the patient's data as prefetch. For the fallback
tests the same data is PUT (by id) into a real FHIR server with one transaction Bundle, and
the request is then sent with its prefetch in full, with none, or with the empty keys `null`
and some data keys left out, so the service must fetch those from `fhirServer`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures"
SCENARIOS = sorted(p.parent for p in FIXTURES.glob("*/expected.json"))
RULE_SYSTEM = "https://b12-cds.example.org/rules"
# what each prefetch key reads, so a request log can tell which keys were fetched
KEY_TYPES = {
    "patient": "Patient",
    "conditions": "Condition",
    "procedures": "Procedure",
    "medrequests": "MedicationRequest",
    "medstatements": "MedicationStatement",
    "medadmins": "MedicationAdministration",
    "labs": "Observation",
}


@dataclass(frozen=True)
class Scenario:
    name: str
    request: dict[str, Any]
    expected: dict[str, Any]

    @classmethod
    def load(cls, folder: Path) -> Scenario:
        read = lambda name: json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))  # noqa: E731
        return cls(folder.name, read("request"), read("expected"))

    @property
    def patient_id(self) -> str:
        return str(self.request["context"]["patientId"])

    def resources(self) -> list[dict[str, Any]]:
        """Every resource of the prefetch (copies), plus a Patient when the prefetch has none."""
        found: list[dict[str, Any]] = []
        for value in (self.request.get("prefetch") or {}).values():
            found.extend(copy.deepcopy(list(_resources(value))))
        if not any(r["resourceType"] == "Patient" for r in found):
            found.append({"resourceType": "Patient", "id": self.patient_id})
        return found

    def data_keys(self) -> list[str]:
        """Prefetch keys that carry at least one resource."""
        return [k for k, v in self.request["prefetch"].items() if list(_resources(v))]

    def empty_keys(self) -> list[str]:
        return [k for k in self.request["prefetch"] if k not in self.data_keys()]

    # --- the three ways ----------------------------------------------------------------

    def full_prefetch(self, fhir_server: str) -> dict[str, Any]:
        body = copy.deepcopy(self.request)
        body["fhirServer"] = fhir_server
        return body

    def no_prefetch(self, fhir_server: str) -> dict[str, Any]:
        body = copy.deepcopy(self.request)
        del body["prefetch"]
        body["fhirServer"] = fhir_server
        return body

    def mixed(self, fhir_server: str) -> tuple[dict[str, Any], list[str], list[str]]:
        """Empty keys sent as null, every other data key left out; (body, nulls, missing)."""
        body = self.full_prefetch(fhir_server)
        nulls = self.empty_keys()
        missing = self.data_keys()[::2]
        for key in nulls:
            body["prefetch"][key] = None
        for key in missing:
            del body["prefetch"][key]
        return body, nulls, missing


def transaction(resources: list[dict[str, Any]]) -> dict[str, Any]:
    """A transaction Bundle that PUTs every resource by its id."""
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": f"urn:uuid:{r['id']}",
                "resource": r,
                "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"},
            }
            for r in resources
        ],
    }


def rule_indicators(body: Mapping[str, Any]) -> dict[str, str]:
    """Which rules spoke, with their indicator; fails if a rule spoke twice."""
    topics = [card["source"]["topic"] for card in body["cards"]]
    assert all(t["system"] == RULE_SYSTEM for t in topics)
    codes = [t["code"] for t in topics]
    assert len(codes) == len(set(codes)), f"a rule spoke twice: {codes}"
    return {card["source"]["topic"]["code"]: card["indicator"] for card in body["cards"]}


def check_expected(body: Mapping[str, Any], expected: Mapping[str, Any], way: str) -> None:
    spoken = rule_indicators(body)
    wanted = {f["rule"]: f["indicator"] for f in expected["fires"]}
    assert {r: spoken.get(r) for r in wanted} == wanted, f"{way}: {expected['description']}"
    quiet = set(expected["silent"]) & set(spoken)
    assert not quiet, f"{way}: {sorted(quiet)} spoke: {expected['description']}"


def _resources(value: Any) -> Iterator[dict[str, Any]]:
    if not isinstance(value, dict):
        return
    if value.get("resourceType") != "Bundle":
        yield value
        return
    for entry in value.get("entry", []):
        yield entry["resource"]
