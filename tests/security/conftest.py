"""A real `b12-cds serve` in JWT mode (two workers) trusting clients whose keys come from a
local JWKS server, plus the keys and URLs tests need to mint tokens for it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.security.jwt_kit import (
    ISSUER,
    JwksServer,
    RecordingFhirServer,
    SigningKey,
    write_trust_file,
)
from tests.support.live import LiveService, start_b12_cds

SANDBOX_ISSUER = "https://sandbox.cds-hooks.org"
# the sandbox's jku: allowed, but unreachable offline; its key is inline in the trust file
SANDBOX_JKU = "https://sandbox.cds-hooks.org/.well-known/jwks.json"


@dataclass
class JwtWorld:
    service: LiveService
    jwks: JwksServer
    key: SigningKey  # published at the client's jwks_url
    rotated: SigningKey  # published only at an allow-listed jku
    sandbox_key: SigningKey  # inline in the trust file
    stranger: SigningKey  # published at a jku nobody allowed
    fhir: RecordingFhirServer  # base("allowed") is on the client's fhir_servers, others not

    def url(self, path: str) -> str:
        return self.service.base_url + path


@pytest.fixture(scope="session")
def jwks_server() -> Iterator[JwksServer]:
    server = JwksServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def fhir_recorder() -> Iterator[RecordingFhirServer]:
    server = RecordingFhirServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def jwt_world(
    tmp_path_factory: pytest.TempPathFactory,
    jwks_server: JwksServer,
    fhir_recorder: RecordingFhirServer,
) -> Iterator[JwtWorld]:
    tmp = tmp_path_factory.mktemp("jwt")
    key, rotated, sandbox_key, stranger = (SigningKey.generate() for _ in range(4))
    jwks_server.publish("client", key)
    jwks_server.publish("rotated", rotated)
    jwks_server.publish("stranger", stranger)
    trust = write_trust_file(
        tmp / "clients.json",
        {
            ISSUER: {
                "name": "Test EHR",
                "jwks_url": jwks_server.url("client"),
                "jku_allow": [jwks_server.url("rotated")],
                "fhir_servers": ["https://fhir.example.org/r4", fhir_recorder.base("allowed")],
            },
            SANDBOX_ISSUER: {
                "jwks": {"keys": [sandbox_key.public_jwk()]},
                "jku_allow": [SANDBOX_JKU],
            },
        },
    )
    service = start_b12_cds(
        "--workers",
        "2",
        env={
            "B12CDS_TRUSTED_CLIENTS": str(trust),
            "B12CDS_DATABASE_URL": f"sqlite:///{Path(tmp) / 'b12cds.sqlite3'}",
            "B12CDS_CORS_ORIGINS": "http://localhost:3000",
        },
    )
    yield JwtWorld(service, jwks_server, key, rotated, sandbox_key, stranger, fhir_recorder)
    assert service.stop() == 0
