"""Test kit for client JWTs: an ES384 key pair, token minting (good and deliberately bad),
a local JWKS server (real HTTP on loopback) and a trust file pointing at it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

ISSUER = "https://ehr.example.org/cds-client"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class SigningKey:
    kid: str
    private: ec.EllipticCurvePrivateKey

    @classmethod
    def generate(cls, curve: ec.EllipticCurve | None = None) -> SigningKey:
        return cls(str(uuid.uuid4()), ec.generate_private_key(curve or ec.SECP384R1()))

    def public_jwk(self, alg: str | None = "ES384") -> dict[str, Any]:
        jwk: dict[str, Any] = json.loads(ECAlgorithm.to_jwk(self.private.public_key()))
        jwk.update(kid=self.kid, use="sig")
        if alg:
            jwk["alg"] = alg
        return jwk

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def claims(
    aud: str, *, iss: str = ISSUER, now: float | None = None, **extra: Any
) -> dict[str, Any]:
    issued = int(now if now is not None else time.time())
    body: dict[str, Any] = {
        "iss": iss,
        "aud": aud,
        "iat": issued,
        "exp": issued + 300,
        "jti": str(uuid.uuid4()),
    }
    body.update(extra)
    return {k: v for k, v in body.items() if v is not None}


def sign(key: SigningKey, payload: dict[str, Any], **header: Any) -> str:
    headers: dict[str, Any] = {"kid": key.kid, "typ": "JWT"}
    headers.update(header)
    alg = headers.pop("alg", "ES384")
    headers = {k: v for k, v in headers.items() if v is not None}
    return jwt.encode(payload, key.private, algorithm=alg, headers=headers)


def unsigned(payload: dict[str, Any], kid: str) -> str:
    """`alg: none`: header.payload. with an empty signature."""
    head = b64url(json.dumps({"alg": "none", "typ": "JWT", "kid": kid}).encode())
    return f"{head}.{b64url(json.dumps(payload).encode())}."


def hs256_with_public_key(key: SigningKey, payload: dict[str, Any]) -> str:
    """The classic key-confusion token: HMAC-SHA256 keyed with the public key's PEM."""
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": key.kid}).encode())
    signing_input = f"{head}.{b64url(json.dumps(payload).encode())}"
    mac = hmac.new(key.public_pem(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def tamper_signature(token: str) -> str:
    head, body, sig = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4)))
    raw[len(raw) // 2] ^= 0x01
    return f"{head}.{body}.{b64url(bytes(raw))}"


@dataclass
class JwksServer:
    """Serves JWK Sets at /<name>.json over real HTTP and counts the fetches."""

    sets: dict[str, dict[str, Any]] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)
    _server: ThreadingHTTPServer | None = None

    def start(self) -> JwksServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                name = self.path.strip("/").removesuffix(".json")
                owner.hits[name] = owner.hits.get(name, 0) + 1
                body = json.dumps(owner.sets.get(name)).encode()
                self.send_response(200 if name in owner.sets else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def url(self, name: str) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/{name}.json"

    def publish(self, name: str, *keys: SigningKey) -> str:
        self.sets[name] = {"keys": [k.public_jwk() for k in keys]}
        return self.url(name)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def write_trust_file(path: Path, clients: dict[str, Any]) -> Path:
    path.write_text(json.dumps(clients), encoding="utf-8")
    return path


def running(server: JwksServer) -> Iterator[JwksServer]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class RecordingFhirServer:
    """A stand-in FHIR server on loopback that answers every search with an empty Bundle
    and records what reached it (method, path, Authorization header)."""

    seen: list[tuple[str, str, str | None]] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    def start(self) -> RecordingFhirServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                owner.seen.append((self.command, self.path, self.headers.get("Authorization")))
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                body = json.dumps({"resourceType": "Bundle", "type": "searchset", "total": 0})
                self.send_response(200)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

            do_GET = _answer
            do_POST = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def base(self, name: str) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/{name}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
