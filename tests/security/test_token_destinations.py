"""Where the FHIR access token may go: only to a fhirServer allowed for the calling client.

A trusted client names a FHIR server that is not on its `fhir_servers` list: nothing is
sent there (not the token, not a probe), prefetch still answers, and data that would need
a fetch is a 412 saying the server is not allowed.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.security.conftest import JwtWorld
from tests.security.jwt_kit import claims, sign
from tests.support.hook_calls import hook_request
from tests.support.schemas import assert_operation_outcome

HOOK = "/cds-services/b12-patient-view"
FHIR_TOKEN = "fhir-token-must-not-travel"


def call(world: JwtWorld, fhir_server: str, *, with_prefetch: bool) -> requests.Response:
    body: dict[str, Any] = hook_request(with_prefetch=with_prefetch)
    body["fhirServer"] = fhir_server
    body["fhirAuthorization"] = {
        "access_token": FHIR_TOKEN,
        "token_type": "Bearer",
        "scope": "patient/*.read",
        "subject": "b12-cds",
    }
    token = sign(world.key, claims(world.url(HOOK)))
    return requests.post(
        world.url(HOOK), json=body, headers={"Authorization": f"Bearer {token}"}, timeout=15
    )


@pytest.mark.parametrize(
    "where",
    [
        "elsewhere",  # same host, another base: not on the list
        "allowed/../elsewhere",  # path games are compared as written, so not on the list
        "allowed-but-longer",  # a prefix of an allowed base is not that base
    ],
)
def test_a_fhir_server_not_allowed_for_the_client_gets_nothing(
    jwt_world: JwtWorld, where: str
) -> None:
    before = len(jwt_world.fhir.seen)
    response = call(jwt_world, jwt_world.fhir.base(where), with_prefetch=False)
    assert response.status_code == 412, response.text
    assert "not among this client's allowed FHIR servers" in assert_operation_outcome(
        response.json()
    )
    assert jwt_world.fhir.seen[before:] == []  # no request at all: no token, no probe
    assert FHIR_TOKEN not in jwt_world.service.log_text()


def test_prefetch_still_answers_when_the_fhir_server_is_not_allowed(jwt_world: JwtWorld) -> None:
    before = len(jwt_world.fhir.seen)
    response = call(jwt_world, jwt_world.fhir.base("elsewhere"), with_prefetch=True)
    assert response.status_code == 200, response.text
    assert jwt_world.fhir.seen[before:] == []


def test_an_allowed_fhir_server_receives_the_token(jwt_world: JwtWorld) -> None:
    """The control: the same call to an allowed base does reach it, with the token."""
    before = len(jwt_world.fhir.seen)
    response = call(jwt_world, jwt_world.fhir.base("allowed"), with_prefetch=False)
    seen = jwt_world.fhir.seen[before:]
    assert seen, response.text
    assert all(auth == f"Bearer {FHIR_TOKEN}" for _, _, auth in seen)
