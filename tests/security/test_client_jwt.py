"""The CDS Hooks client JWT against a real two-worker server and a real local JWKS server.

Each refused token is refused for its own reason: the 401 body names the reason code's
text and the server logs the code, so a test cannot pass because of some other defect.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from cds_service.trust.auth import REASONS
from tests.security.conftest import SANDBOX_ISSUER, SANDBOX_JKU, JwtWorld
from tests.security.jwt_kit import (
    ISSUER,
    SigningKey,
    claims,
    hs256_with_public_key,
    sign,
    tamper_signature,
    unsigned,
)
from tests.support.hook_calls import hook_request
from tests.support.live import REPO
from tests.support.schemas import assert_operation_outcome, assert_valid_response

HOOK = "/cds-services/b12-patient-view"
TIMEOUT = 10


def call(
    world: JwtWorld, token: str | None, path: str = HOOK, body: Any = None
) -> requests.Response:
    """One call on a fresh connection (no session), so successive calls may reach either worker."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    if path == "/cds-services":
        return requests.get(world.url(path), headers=headers, timeout=TIMEOUT)
    return requests.post(
        world.url(path),
        json=body if body is not None else hook_request(),
        headers=headers,
        timeout=TIMEOUT,
    )


def assert_refused(response: requests.Response, reason: str) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert assert_operation_outcome(response.json()) == f"unauthorized: {REASONS[reason]}"


# --- accepted ---------------------------------------------------------------------------


def test_valid_token_from_jwks_url_is_200(jwt_world: JwtWorld) -> None:
    token = sign(jwt_world.key, claims(jwt_world.url(HOOK)))
    response = call(jwt_world, token)
    assert response.status_code == 200, response.text
    assert_valid_response(response.json())


def test_sandbox_style_token_inline_key_and_allowed_unreachable_jku_is_200(
    jwt_world: JwtWorld,
) -> None:
    """The sandbox's jku cannot be fetched offline; its key is inline, so none is fetched."""
    token = sign(
        jwt_world.sandbox_key, claims(jwt_world.url(HOOK), iss=SANDBOX_ISSUER), jku=SANDBOX_JKU
    )
    assert call(jwt_world, token).status_code == 200


def test_discovery_is_open_but_a_token_sent_to_it_must_name_the_discovery_url(
    jwt_world: JwtWorld,
) -> None:
    assert call(jwt_world, None, "/cds-services").status_code == 200
    wrong = sign(jwt_world.key, claims(jwt_world.url(HOOK)))
    assert_refused(call(jwt_world, wrong, "/cds-services"), "bad_aud")
    token = sign(jwt_world.key, claims(jwt_world.url("/cds-services")))
    response = call(jwt_world, token, "/cds-services")
    assert response.status_code == 200
    assert len(response.json()["services"]) == 3


def test_token_with_allowed_jku_is_verified_with_the_key_fetched_from_it(
    jwt_world: JwtWorld,
) -> None:
    token = sign(jwt_world.rotated, claims(jwt_world.url(HOOK)), jku=jwt_world.jwks.url("rotated"))
    assert call(jwt_world, token).status_code == 200
    # the same key without the jku is unknown: jwks_url does not hold it
    assert_refused(
        call(jwt_world, sign(jwt_world.rotated, claims(jwt_world.url(HOOK)))), "unknown_kid"
    )


def test_aud_may_be_an_array_holding_the_url(jwt_world: JwtWorld) -> None:
    token = sign(jwt_world.key, claims(["https://other.example.org", jwt_world.url(HOOK)]))
    assert call(jwt_world, token).status_code == 200


def test_feedback_needs_a_token_whose_aud_is_the_feedback_url(jwt_world: JwtWorld) -> None:
    fixture = REPO / "fixtures" / "fires-folic-acid-warning-b12-unknown" / "request.json"
    body = json.loads(fixture.read_text(encoding="utf-8"))
    body["hookInstance"] = str(uuid.uuid4())
    path = f"/cds-services/b12-{body['hook']}"
    issued = call(jwt_world, sign(jwt_world.key, claims(jwt_world.url(path))), path, body)
    assert issued.status_code == 200, issued.text
    card = issued.json()["cards"][0]
    feedback = {
        "feedback": [
            {
                "card": card["uuid"],
                "outcome": "overridden",
                "outcomeTimestamp": "2026-11-25T10:05:31Z",
            }
        ]
    }
    fb_path = path + "/feedback"
    assert_refused(call(jwt_world, None, fb_path, feedback), "missing_token")
    hook_aud = sign(jwt_world.key, claims(jwt_world.url(path)))
    assert_refused(call(jwt_world, hook_aud, fb_path, feedback), "bad_aud")
    ok = call(jwt_world, sign(jwt_world.key, claims(jwt_world.url(fb_path))), fb_path, feedback)
    assert ok.status_code == 200, ok.text


# --- refused ----------------------------------------------------------------------------

BadToken = Callable[[JwtWorld], "str | None"]


def _other_issuer_key(world: JwtWorld) -> str:
    return sign(SigningKey.generate(), claims(world.url(HOOK), iss="https://evil.example.org"))


def _p256_token_naming_the_p384_key(world: JwtWorld) -> str:
    """ES256 signed by a P-256 key under the trusted P-384 key's kid: alg must not pick the key."""
    from cryptography.hazmat.primitives.asymmetric import ec

    impostor = SigningKey(world.key.kid, ec.generate_private_key(ec.SECP256R1()))
    return sign(impostor, claims(world.url(HOOK)), alg="ES256")


NEGATIVE: dict[str, tuple[BadToken, str]] = {
    "missing token": (lambda w: None, "missing_token"),
    "alg none": (lambda w: unsigned(claims(w.url(HOOK)), w.key.kid), "alg_not_allowed"),
    "HS256 signed with the public key": (
        lambda w: hs256_with_public_key(w.key, claims(w.url(HOOK))),
        "alg_not_allowed",
    ),
    "wrong aud (another endpoint)": (
        lambda w: sign(w.key, claims(w.url("/cds-services/b12-order-sign"))),
        "bad_aud",
    ),
    "wrong aud (another host)": (
        lambda w: sign(w.key, claims("https://cds.example.org" + HOOK)),
        "bad_aud",
    ),
    "expired": (lambda w: sign(w.key, claims(w.url(HOOK), now=time.time() - 400)), "expired"),
    "future iat": (
        lambda w: sign(w.key, claims(w.url(HOOK), now=time.time() + 600)),
        "not_yet_valid",
    ),
    "unknown iss": (_other_issuer_key, "untrusted_issuer"),
    "untrusted jku": (
        lambda w: sign(w.stranger, claims(w.url(HOOK)), jku=w.jwks.url("stranger")),
        "untrusted_jku",
    ),
    "tampered signature": (
        lambda w: tamper_signature(sign(w.key, claims(w.url(HOOK)))),
        "bad_signature",
    ),
    "unknown kid": (
        lambda w: sign(SigningKey.generate(), claims(w.url(HOOK))),
        "unknown_kid",
    ),
    "key type does not fit alg": (_p256_token_naming_the_p384_key, "key_mismatch"),
    "no jti": (lambda w: sign(w.key, claims(w.url(HOOK), jti=None)), "missing_claim"),
    "no exp": (lambda w: sign(w.key, claims(w.url(HOOK), exp=None)), "missing_claim"),
    "lifetime over an hour": (
        lambda w: sign(w.key, claims(w.url(HOOK), exp=int(time.time()) + 7200)),
        "lifetime_too_long",
    ),
    "typ not JWT": (lambda w: sign(w.key, claims(w.url(HOOK)), typ="at+jwt"), "bad_typ"),
    "no kid": (lambda w: sign(w.key, claims(w.url(HOOK)), kid=None), "missing_kid"),
    "not a JWT": (lambda w: "not-a-jwt", "malformed"),
}


@pytest.mark.parametrize("case", list(NEGATIVE), ids=list(NEGATIVE))
def test_bad_token_is_401_for_its_own_reason(jwt_world: JwtWorld, case: str) -> None:
    make, reason = NEGATIVE[case]
    response = call(jwt_world, make(jwt_world))
    assert_refused(response, reason)
    assert f'"auth_reason":"{reason}"' in jwt_world.service.log_text()


def _answered_by(world: JwtWorld, response: requests.Response) -> int:
    """The pid of the worker that answered, from its request log line (matched by the
    request id the service echoes)."""
    request_id = response.headers["X-Request-Id"]
    for line in world.service.log_text().splitlines():
        if request_id in line and line.startswith("{"):
            entry = json.loads(line)
            if entry.get("request_id") == request_id and "status" in entry:
                return int(entry["pid"])
    raise AssertionError(f"no log line for request {request_id}")


def test_reused_jti_is_401_across_both_workers(jwt_world: JwtWorld) -> None:
    """Tokens sent twice on fresh connections, until a replay has been refused by the
    worker that did not see the first use (the jti store is the shared database), and
    both workers have answered."""
    crossed = 0
    workers: set[int] = set()
    for _ in range(300):
        token = sign(jwt_world.key, claims(jwt_world.url(HOOK)))
        first = call(jwt_world, token)
        assert first.status_code == 200
        second = call(jwt_world, token)
        assert_refused(second, "replayed_jti")
        pids = (_answered_by(jwt_world, first), _answered_by(jwt_world, second))
        workers.update(pids)
        crossed += pids[0] != pids[1]
        if crossed >= 3 and len(workers) == 2:
            break
    assert len(workers) == 2 and crossed >= 3, (workers, crossed)


def test_same_jti_from_another_issuer_is_its_own(jwt_world: JwtWorld) -> None:
    jti = str(uuid.uuid4())
    first = sign(jwt_world.key, claims(jwt_world.url(HOOK), jti=jti))
    second = sign(jwt_world.sandbox_key, claims(jwt_world.url(HOOK), iss=SANDBOX_ISSUER, jti=jti))
    assert call(jwt_world, first).status_code == 200
    assert call(jwt_world, second).status_code == 200


def test_logs_never_hold_a_token(jwt_world: JwtWorld) -> None:
    token = sign(jwt_world.key, claims(jwt_world.url(HOOK)))
    call(jwt_world, token)
    call(jwt_world, token)
    log = jwt_world.service.log_text()
    for part in token.split("."):
        assert part not in log


def test_bad_trust_file_stops_start_up_with_a_clear_message(tmp_path: Path) -> None:
    from tests.support.live import ServiceStartError, start_b12_cds

    key = SigningKey.generate()
    private = dict(key.public_jwk(), d="AAAA")
    cases = {
        "not JSON": ("{", "not valid JSON"),
        "private key": (
            json.dumps({ISSUER: {"jwks": {"keys": [private]}}}),
            "private key material",
        ),
        "http off loopback": (
            json.dumps({ISSUER: {"jwks_url": "http://keys.example.org/jwks.json"}}),
            "must use https",
        ),
        "typo": (json.dumps({ISSUER: {"jwks_uri": "https://x.example.org/j"}}), "jwks_uri"),
        "symmetric key": (
            json.dumps({ISSUER: {"jwks": {"keys": [{"kty": "oct", "kid": "k", "k": "c2VjcmV0"}]}}}),
            "not an asymmetric key type",
        ),
    }
    for name, (text, expected) in cases.items():
        path = tmp_path / f"{name.replace(' ', '-')}.json"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ServiceStartError) as failed:
            start_b12_cds(env={"B12CDS_TRUSTED_CLIENTS": str(path)})
        message = str(failed.value)
        assert "B12CDS_TRUSTED_CLIENTS" in message and expected in message, (name, message)
