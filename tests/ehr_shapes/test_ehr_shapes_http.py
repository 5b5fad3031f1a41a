"""Real EHR request shapes through the running service: Epic, Oracle Health, the CDS Hooks
Sandbox and a CDS Hooks 3.0 client (fixtures/ehr-shapes/), over real HTTP.

The service runs with JWT auth and today frozen at 2026-11-25, trusting one client per shape
(each with its card profile) whose keys come from a local JWKS server or inline, as that
client publishes them. The data is on real test FHIR servers: one that needs the access token
(Epic, Oracle, CDS Hooks 3.0 send `fhirAuthorization`), one open and paging at 3 (the
sandbox has no token and delivers first pages only).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from cds_service.cards.profiles import PROFILES
from tests.data.scenarios import check_expected
from tests.security.jwt_kit import JwksServer, SigningKey, sign, write_trust_file
from tests.support.fhir_server import FhirServer, start_fhir_server
from tests.support.hook_calls import SERVICE_FOR_HOOK
from tests.support.live import LiveService, start_frozen
from tests.support.prefetching_client import prefetch
from tests.support.schemas import assert_operation_outcome, assert_valid_response

REPO = Path(__file__).resolve().parents[2]
SHAPES_DIR = REPO / "fixtures" / "ehr-shapes"
SHAPES = sorted(p.parent.name for p in SHAPES_DIR.glob("*/request.json"))
PLACEHOLDER = "https://fhir.ehr.example/r4"
ACCESS_TOKEN = "ehr-shape-sample-access-token"  # the fixtures' sample token
SANDBOX_JKU = "https://sandbox.cds-hooks.org/.well-known/jwks.json"  # unreachable offline

ISSUERS = {
    # Epic: iss is the organisation's FHIR endpoint; keys at a jku it names
    "epic": "https://fhir.epic-hospital.example/interconnect-fhir-oauth/api/FHIR/R4",
    # Oracle Health: one issuer per tenant, keys from one JWKS URL
    "oracle-tenant-a": "https://cds.oracle-health.example/tenants/ec2458f2-1e24-41c8-b71b-0e701af7583d",
    "oracle-tenant-b": "https://cds.oracle-health.example/tenants/7b3f1c9a-0d2e-4f5a-8b6c-1d2e3f4a5b6c",
    "sandbox": "https://sandbox.cds-hooks.org",
    "sandbox-offline": "https://sandbox-offline.cds-hooks.example",  # no fhir_servers: no fallback
    "v2-client": "https://ehr-v3.example.org/cds-client",
}
TENANT = {"oracle-tenant-a": "ec2458f2-1e24-41c8-b71b-0e701af7583d", "oracle-tenant-b": "7b3f1c9a"}
PROFILE = {
    "epic": "epic",
    "oracle-tenant-a": "oracle",
    "oracle-tenant-b": "oracle",
    "sandbox": "sandbox",
    "sandbox-offline": "sandbox",
    "v2-client": "generic",
}


@dataclass
class Shape:
    name: str
    request: dict[str, Any]
    fhir: dict[str, Any]
    expected: dict[str, Any]

    @classmethod
    def load(cls, name: str) -> Shape:
        read = lambda part: json.loads((SHAPES_DIR / name / f"{part}.json").read_text("utf-8"))  # noqa: E731
        return cls(name, read("request"), read("fhir"), read("expected"))

    @property
    def caller(self) -> dict[str, Any]:
        found: dict[str, Any] = self.expected["caller"]
        return found


class RsaKey:
    def __init__(self) -> None:
        self.kid = str(uuid.uuid4())
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def public_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        return jwk | {"kid": self.kid, "use": "sig"}


@dataclass
class World:
    service: LiveService
    token_fhir: FhirServer
    paged_fhir: FhirServer
    jwks: JwksServer
    epic_key: RsaKey
    oracle_key: RsaKey
    inline_key: SigningKey

    def base_for(self, shape: Shape) -> str:
        return (
            self.token_fhir if shape.caller["fhir_server"] == "token" else self.paged_fhir
        ).base_url

    def body(self, shape: Shape) -> dict[str, Any]:
        text = json.dumps(shape.request).replace(PLACEHOLDER, self.base_for(shape))
        body: dict[str, Any] = json.loads(text)
        body["hookInstance"] = str(uuid.uuid4())  # a new one for every call, as clients do
        return body

    def token(
        self, client: str, url: str, alg: str, nbf_before_iat: int | None, **extra: Any
    ) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUERS[client],
            "aud": url,
            "iat": now,
            "exp": now + 300,
            "jti": str(uuid.uuid4()),
        }
        if client == "epic":
            claims["sub"] = "b12-cds-epic-client-id"
            claims["exp"] = now + 900
        if nbf_before_iat is not None:
            claims["nbf"] = now - nbf_before_iat
        if client in TENANT:
            claims["tenant"] = TENANT[client]
        claims.update(extra)
        claims = {k: v for k, v in claims.items() if v is not None}  # None: leave the claim out
        if client == "epic":
            headers = {"kid": self.epic_key.kid, "typ": "JWT", "jku": self.jwks.url("epic")}
            return jwt.encode(claims, self.epic_key.private, algorithm=alg, headers=headers)
        if client.startswith("oracle"):
            headers = {"kid": self.oracle_key.kid, "typ": "JWT"}
            return jwt.encode(claims, self.oracle_key.private, algorithm=alg, headers=headers)
        jku = SANDBOX_JKU if client.startswith("sandbox") else None
        return sign(self.inline_key, claims, alg=alg, jku=jku)

    def call(
        self, shape: Shape, body: dict[str, Any], client: str | None = None, **claims: Any
    ) -> requests.Response:
        caller = shape.caller
        url = f"{self.service.base_url}/cds-services/{SERVICE_FOR_HOOK[body['hook']]}"
        token = self.token(
            client or caller["client"], url, caller["alg"], caller["nbf_before_iat"], **claims
        )
        response = requests.post(
            url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=15
        )
        if response.status_code == 200:
            assert_valid_response(response.json())
        return response


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    shapes = [Shape.load(name) for name in SHAPES]
    token_fhir = start_fhir_server(tmp_path_factory, token=ACCESS_TOKEN)
    paged_fhir = start_fhir_server(tmp_path_factory, page_size=3)
    jwks = JwksServer().start()
    try:
        for shape in shapes:
            server = token_fhir if shape.caller["fhir_server"] == "token" else paged_fhir
            server.load(shape.fhir)
        epic_key, oracle_key, inline_key = RsaKey(), RsaKey(), SigningKey.generate()
        jwks.sets["epic"] = {"keys": [epic_key.public_jwk() | {"alg": "RS384"}]}
        jwks.sets["oracle"] = {"keys": [oracle_key.public_jwk()]}
        inline = {"jwks": {"keys": [inline_key.public_jwk()]}}
        folder = tmp_path_factory.mktemp("ehr-shapes")
        clients = {
            ISSUERS["epic"]: {
                "name": "Epic (shape)",
                "jwks_url": jwks.url("epic"),
                "fhir_servers": [token_fhir.base_url],
                "profile": "epic",
            },
            ISSUERS["oracle-tenant-a"]: {
                "jwks_url": jwks.url("oracle"),
                "tenant": TENANT["oracle-tenant-a"],
                "fhir_servers": [token_fhir.base_url],
                "profile": "oracle",
            },
            ISSUERS["oracle-tenant-b"]: {
                "jwks_url": jwks.url("oracle"),
                "tenant": TENANT["oracle-tenant-b"],
                "fhir_servers": ["https://fhir-ehr.oracle-health.example/r4/7b3f1c9a"],
                "profile": "oracle",
            },
            ISSUERS["sandbox"]: {
                **inline,
                "jku_allow": [SANDBOX_JKU],
                "fhir_servers": [paged_fhir.base_url],
                "profile": "sandbox",
            },
            ISSUERS["sandbox-offline"]: {
                **inline,
                "jku_allow": [SANDBOX_JKU],
                "profile": "sandbox",
            },
            ISSUERS["v2-client"]: {**inline, "fhir_servers": [token_fhir.base_url]},
        }
        trust = write_trust_file(folder / "clients.json", clients)
        service = start_frozen(
            {
                "B12CDS_TRUSTED_CLIENTS": str(trust),
                "B12CDS_DATABASE_URL": f"sqlite:///{folder}/b12cds.sqlite3",
            },
            "--auth",
            "jwt",
        )
        yield World(service, token_fhir, paged_fhir, jwks, epic_key, oracle_key, inline_key)
        service.stop()
    finally:
        jwks.stop()
        token_fhir.stop()
        paged_fhir.stop()


def fits_profile(cards: list[dict[str, Any]], profile_name: str) -> None:
    profile = PROFILES[profile_name]
    for card in cards:
        assert "links" not in card or profile.links
        if "suggestions" in card:
            assert card["selectionBehavior"] in profile.selection
            for suggestion in card["suggestions"]:
                assert (
                    profile.max_actions is None or len(suggestion["actions"]) <= profile.max_actions
                )


def fhir_paths(server: FhirServer) -> list[str]:
    return [entry["path"] for entry in server.request_log()]


# --- every shape as recorded ---------------------------------------------------------------


@pytest.mark.parametrize("name", SHAPES)
def test_each_shape_through_the_running_service(world: World, name: str) -> None:
    shape = Shape.load(name)
    body = world.body(shape)
    if name == "sandbox-patient-view-first-page":  # the sandbox's own prefetch, at test time
        prefetched = prefetch(world.paged_fhir, SERVICE_FOR_HOOK[body["hook"]], body["context"])
        del prefetched["labs"]  # its query failed: the sandbox leaves the key out
        body["prefetch"] = prefetched
    server = world.token_fhir if shape.caller["fhir_server"] == "token" else world.paged_fhir
    server.clear_request_log()
    response = world.call(shape, body)
    assert response.status_code == shape.expected["status"], response.text
    check_expected(response.json(), shape.expected, name)
    fits_profile(response.json()["cards"], PROFILE[shape.caller["client"]])
    log = server.request_log()
    if shape.caller["fhir_server"] == "token":
        assert log and all(e["bearer"] and e["authorized"] for e in log), log
    assert ACCESS_TOKEN not in world.service.log_text()


# --- Epic --------------------------------------------------------------------------------


def test_epic_fetches_everything_with_the_token_and_answers_with_one_action_suggestions(
    world: World,
) -> None:
    shape = Shape.load("epic-order-select-medication-reference")
    world.token_fhir.clear_request_log()
    response = world.call(shape, world.body(shape))
    assert response.status_code == 200, response.text
    medication = shape.request["context"]["draftOrders"]["entry"][0]["resource"][
        "medicationReference"
    ]["reference"]
    assert f"/{medication}" in fhir_paths(world.token_fhir)  # read: the draft names only the id
    card = response.json()["cards"][0]
    assert card["selectionBehavior"] == "any"
    assert [len(s["actions"]) for s in card["suggestions"]] == [1] * len(card["suggestions"])
    assert len(card["suggestions"]) == 4  # IM order; B12 test; folate test; remove folic acid


def test_without_reading_the_medication_the_epic_draft_would_pass_unchecked(world: World) -> None:
    """The control: the same draft, its Medication gone from the FHIR server."""
    shape = Shape.load("epic-order-select-medication-reference")
    body = world.body(shape)
    entry = body["context"]["draftOrders"]["entry"][0]["resource"]
    entry["medicationReference"] = {"reference": "Medication/not-on-the-server"}
    response = world.call(shape, body)
    assert response.status_code == 200, response.text
    assert response.json()["cards"] == []


def test_an_epic_token_without_nbf_or_sub_is_accepted_and_one_not_yet_valid_is_not(
    world: World,
) -> None:
    shape = Shape.load("epic-patient-view-no-prefetch")
    assert world.call(shape, world.body(shape), nbf=None, sub=None).status_code == 200
    future = int(time.time()) + 600
    response = world.call(shape, world.body(shape), nbf=future)
    assert response.status_code == 401 and "not valid yet" in response.text


# --- Oracle Health -----------------------------------------------------------------------


def test_an_oracle_tenant_is_held_to_its_own_tenant_and_fhir_server(world: World) -> None:
    shape = Shape.load("oracle-patient-view-tenant")
    wrong_tenant = world.call(shape, world.body(shape), tenant=TENANT["oracle-tenant-b"])
    assert wrong_tenant.status_code == 401 and "tenant" in wrong_tenant.text
    other = world.call(shape, world.body(shape), client="oracle-tenant-b")
    assert other.status_code == 412, other.text
    assert "not among this client's allowed FHIR servers" in assert_operation_outcome(other.json())


def test_oracle_cards_use_at_most_one(world: World) -> None:
    shape = Shape.load("oracle-patient-view-tenant")
    response = world.call(shape, world.body(shape))
    assert response.status_code == 200, response.text
    with_suggestions = [c for c in response.json()["cards"] if "suggestions" in c]
    assert with_suggestions and {c["selectionBehavior"] for c in with_suggestions} == {
        "at-most-one"
    }


# --- the CDS Hooks Sandbox ---------------------------------------------------------------


def test_the_sandbox_without_fallback_is_told_which_key_is_missing(world: World) -> None:
    shape = Shape.load("sandbox-patient-view-first-page")
    body = world.body(shape)
    prefetched = prefetch(world.paged_fhir, SERVICE_FOR_HOOK[body["hook"]], body["context"])
    body["prefetch"] = {k: v for k, v in prefetched.items() if k != "labs"}
    response = world.call(shape, body, client="sandbox-offline")
    assert response.status_code == 412, response.text
    assert "'labs'" in assert_operation_outcome(response.json())
    body["prefetch"] = prefetched  # every key, first pages only
    response = world.call(shape, body, client="sandbox-offline")
    assert response.status_code == 200, response.text
    check_expected(response.json(), shape.expected, "first pages, no fallback")
    detail = "\n".join(c["detail"] for c in response.json()["cards"])
    assert "medication administrations ('medadmins'), 3 of 4 read" in detail


def test_the_sandbox_order_select_before_a_drug_fetches_nothing(world: World) -> None:
    shape = Shape.load("sandbox-order-select-no-drug")
    world.paged_fhir.clear_request_log()
    response = world.call(shape, world.body(shape))
    assert response.status_code == 200 and response.json() == {"cards": []}
    assert world.paged_fhir.request_log() == []


def test_the_sandbox_gets_the_swap_as_one_update_of_its_draft(world: World) -> None:
    shape = Shape.load("sandbox-order-select-oral-b12")
    response = world.call(shape, world.body(shape))
    assert response.status_code == 200, response.text
    card = response.json()["cards"][0]
    first = card["suggestions"][0]
    assert first["isRecommended"] and [a["type"] for a in first["actions"]] == ["update"]
    swapped = first["actions"][0]["resource"]
    assert swapped["id"] == "request-123"
    assert swapped["medicationCodeableConcept"]["coding"][0]["code"] == "317106"


# --- CDS Hooks 3.0: SMART v2 scopes ------------------------------------------------------


def test_a_v2_scope_that_does_not_grant_a_search_is_a_412_saying_so(world: World) -> None:
    shape = Shape.load("cds-hooks-3-smart-v2-scope")
    body = world.body(shape)
    scopes = body["fhirAuthorization"]["scope"].split()
    body["fhirAuthorization"]["scope"] = " ".join(
        s for s in scopes if not s.startswith("user/MedicationAdministration")
    )
    response = world.call(shape, body)
    assert response.status_code == 412, response.text
    assert (
        "'medadmins': fhirAuthorization.scope does not allow searching MedicationAdministration"
        in (assert_operation_outcome(response.json()))
    )


def test_a_narrowed_v2_scope_makes_its_search_incomplete(world: World) -> None:
    shape = Shape.load("cds-hooks-3-smart-v2-scope")
    body = world.body(shape)
    body["fhirAuthorization"]["scope"] = body["fhirAuthorization"]["scope"].replace(
        "user/Observation.rs", "user/Observation.rs?category=laboratory"
    )
    response = world.call(shape, body)
    assert response.status_code == 200, response.text
    detail = "\n".join(c["detail"] for c in response.json()["cards"])
    assert "the access token's scope limits it to category=laboratory" in detail
