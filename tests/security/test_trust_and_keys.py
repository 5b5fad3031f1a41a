"""The trust file, the JWK Set cache (rotation, bounded refresh) and the `aud` behind a proxy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cds_service import create_app
from cds_service.trust.jwks import JwksCache, JwksUnavailable
from cds_service.trust.trusted_clients import TrustedClientsError, parse_trusted_clients
from tests.security.jwt_kit import ISSUER, JwksServer, SigningKey, claims, sign, write_trust_file
from tests.support.hook_calls import hook_request


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def keys_server() -> Iterator[JwksServer]:
    server = JwksServer().start()
    yield server
    server.stop()


def test_unknown_kid_refreshes_the_set_at_a_bounded_rate(keys_server: JwksServer) -> None:
    old, new = SigningKey.generate(), SigningKey.generate()
    url = keys_server.publish("rotating", old)
    clock = Clock()
    cache = JwksCache(min_interval=30, ttl=600, clock=clock)
    assert cache.key(url, old.kid) is not None
    assert keys_server.hits["rotating"] == 1
    keys_server.publish("rotating", old, new)  # the client rotates
    assert cache.key(url, new.kid) is None  # too soon after the last fetch: no refetch
    for _ in range(50):  # a flood of made-up kids
        assert cache.key(url, f"made-up-{_}") is None
    assert keys_server.hits["rotating"] == 1
    clock.now += 31
    assert cache.key(url, new.kid) is not None  # unknown kid -> one refetch
    assert cache.key(url, old.kid) is not None
    assert keys_server.hits["rotating"] == 2


def test_cached_set_is_reused_until_its_ttl_and_kept_when_a_refresh_fails(
    keys_server: JwksServer,
) -> None:
    key = SigningKey.generate()
    url = keys_server.publish("ttl", key)
    clock = Clock()
    cache = JwksCache(min_interval=30, ttl=600, clock=clock)
    for _ in range(5):
        assert cache.key(url, key.kid) is not None
    assert keys_server.hits["ttl"] == 1
    clock.now += 601
    del keys_server.sets["ttl"]  # the key server is now answering 404
    assert cache.key(url, key.kid) is not None  # stale keys still serve
    assert keys_server.hits["ttl"] == 2


def test_a_set_never_fetched_is_unavailable(keys_server: JwksServer) -> None:
    cache = JwksCache(timeout=1)
    with pytest.raises(JwksUnavailable):
        cache.key(keys_server.url("absent"), "kid")
    with pytest.raises(JwksUnavailable):
        cache.key("http://127.0.0.1:9/closed.json", "kid")


def test_fetched_set_skips_private_and_symmetric_keys(keys_server: JwksServer) -> None:
    good = SigningKey.generate()
    leaked = dict(SigningKey.generate().public_jwk(), kid="leaked", d="AAAA")
    keys_server.sets["mixed"] = {
        "keys": [leaked, {"kty": "oct", "kid": "sym", "k": "c2VjcmV0"}, good.public_jwk()]
    }
    cache = JwksCache()
    url = keys_server.url("mixed")
    assert cache.key(url, good.kid) is not None
    assert cache.key(url, "leaked") is None
    assert cache.key(url, "sym") is None


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({}, "needs keys"),
        ({"jwks": {"keys": []}}, "has no keys"),
        ({"jwks_url": "ftp://x.example.org/k"}, "not an absolute https URL"),
        ({"jwks_url": "https://user:pw@x.example.org/k"}, "credentials"),
        ({"jku_allow": "https://x.example.org/k"}, "list of URLs"),
        (
            {"jwks_url": "https://x.example.org/k", "fhir_servers": ["http://ehr.example.org"]},
            "https",
        ),
        ({"jwks_url": "https://x.example.org/k", "tenant": 5}, "tenant"),
        (
            {"jwks_url": "https://x.example.org/k", "profile": "cerner"},
            "profile 'cerner' is not one of epic, generic, oracle, sandbox",
        ),
        ({"jwks_url": "https://x.example.org/k", "profile": ["epic"]}, "profile"),
    ],
)
def test_trust_file_mistakes_are_named(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(TrustedClientsError, match=message):
        parse_trusted_clients({ISSUER: entry})


def test_trust_file_rejects_an_rsa_key_under_2048_bits() -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa
    from jwt.algorithms import RSAAlgorithm

    small = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()  # noqa: S505  # the point
    jwk = RSAAlgorithm.to_jwk(small, as_dict=True) | {"kid": "small"}
    with pytest.raises(TrustedClientsError, match="2048"):
        parse_trusted_clients({ISSUER: {"jwks": {"keys": [jwk]}}})


def test_trust_file_names_a_card_profile_or_gets_generic() -> None:
    clients = parse_trusted_clients(
        {
            ISSUER: {"jwks_url": "https://x.example.org/k", "profile": "epic"},
            "https://other.example.org": {"jwks_url": "https://x.example.org/k"},
        }
    )
    assert [clients.get(i).profile for i in (ISSUER, "https://other.example.org")] == [  # type: ignore[union-attr]
        "epic",
        "generic",
    ]


def test_trust_file_keeps_fhir_servers_without_trailing_slash() -> None:
    clients = parse_trusted_clients(
        {
            ISSUER: {
                "jwks_url": "https://x.example.org/k",
                "fhir_servers": ["https://EHR.example.org/r4/"],
            }
        }
    )
    client = clients.get(ISSUER)
    assert client is not None and client.fhir_servers == ("https://ehr.example.org/r4",)


def test_aud_is_the_public_url_plus_path_behind_a_proxy(tmp_path: Path) -> None:
    key = SigningKey.generate()
    trust = write_trust_file(tmp_path / "c.json", {ISSUER: {"jwks": {"keys": [key.public_jwk()]}}})
    app = create_app(
        {
            "trusted_clients": str(trust),
            "public_url": "https://cds.example.org/b12",
            "database_url": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        }
    )
    client = app.test_client()
    path = "/cds-services/b12-patient-view"

    def post(aud: str) -> int:
        token = sign(key, claims(aud))
        headers = {"Authorization": f"Bearer {token}"}
        return client.post(path, json=hook_request(), headers=headers).status_code

    assert post("http://localhost" + path) == 401  # what Flask sees is not what was called
    assert post("https://cds.example.org" + path) == 401
    assert post("https://cds.example.org/b12" + path) == 200
