"""The trusted CDS clients (`B12CDS_TRUSTED_CLIENTS`), read and checked once at start-up.

The file maps each trusted issuer (`iss`) to where its signing keys come from and what
it may do:

    {"https://sandbox.cds-hooks.org": {
        "jwks": {"keys": [...]},            # inline public keys, and/or
        "jwks_url": "https://.../jwks.json", # fetched, cached, refreshed on an unknown kid
        "jku_allow": ["https://.../jwks.json"],  # `jku` header values honoured for this issuer
        "fhir_servers": ["https://ehr.example.org/fhir"],  # where its fhirAuthorization may go
        "tenant": "org-1",                   # if set, the token's `tenant` must equal it
        "profile": "epic"}}                  # card profile: generic (default), epic, oracle, sandbox

A typo or an unsafe value (a private key, a symmetric key, plain http to a non-loopback
host) stops start-up: a trust file that half works is worse than none.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from jwt import PyJWK
from jwt.exceptions import PyJWKError

from cds_service.cards.profiles import PROFILES
from cds_service.data.fhir_client import normalise_url
from cds_service.settings import SettingsError, is_loopback

_FIELDS = frozenset({"name", "jwks", "jwks_url", "jku_allow", "fhir_servers", "tenant", "profile"})
# JWK members that only a private or symmetric key has: never in a trust file
_SECRET_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_KEY_TYPES = frozenset({"EC", "RSA", "OKP"})
MIN_RSA_BITS = 2048


class TrustedClientsError(SettingsError):
    """B12CDS_TRUSTED_CLIENTS is unreadable or unsafe; the message says where."""


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """One public key from a JWK Set, with the JWK members that limit its use."""

    kid: str
    kty: str
    crv: str | None
    alg: str | None  # the JWK's own `alg`; if set, a token must use exactly it
    use: str | None
    key: Any  # a cryptography public key object


@dataclass(frozen=True, slots=True)
class TrustedClient:
    issuer: str
    name: str
    keys: Mapping[str, VerificationKey]  # inline keys by kid
    jwks_url: str | None
    jku_allow: frozenset[str]
    fhir_servers: tuple[str, ...]  # empty: the service never calls a FHIR server for it
    tenant: str | None
    profile: str = "generic"  # the card profile of its kind of client (cards.profiles)

    def jku_allowed(self, jku: str) -> bool:
        return jku in self.jku_allow or jku == self.jwks_url


@dataclass(frozen=True, slots=True)
class TrustedClients:
    clients: Mapping[str, TrustedClient]

    def get(self, issuer: str) -> TrustedClient | None:
        return self.clients.get(issuer)

    def __len__(self) -> int:
        return len(self.clients)


def load_trusted_clients(path: Path | None) -> TrustedClients:
    """Read `path` (None: no trusted client at all), or raise TrustedClientsError."""
    if path is None:
        return TrustedClients(MappingProxyType({}))
    where = f"B12CDS_TRUSTED_CLIENTS ({path})"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TrustedClientsError(f"{where}: cannot be read: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TrustedClientsError(f"{where}: not valid JSON: {exc}") from None
    return parse_trusted_clients(data, where)


def parse_trusted_clients(data: Any, where: str = "B12CDS_TRUSTED_CLIENTS") -> TrustedClients:
    if not isinstance(data, dict) or not data:
        raise TrustedClientsError(
            f"{where}: expected a JSON object mapping each issuer to "
            '{"jwks": {...}} or {"jwks_url": "..."}'
        )
    clients = {
        issuer: _client(issuer, entry, f"{where}: issuer {issuer!r}")
        for issuer, entry in data.items()
    }
    return TrustedClients(MappingProxyType(clients))


def _client(issuer: str, entry: Any, where: str) -> TrustedClient:
    if not issuer.strip():
        raise TrustedClientsError(f"{where}: the issuer must not be empty")
    if not isinstance(entry, dict):
        raise TrustedClientsError(f"{where}: expected an object")
    unknown = sorted(set(entry) - _FIELDS)
    if unknown:
        raise TrustedClientsError(
            f"{where}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_FIELDS))}"
        )
    keys: dict[str, VerificationKey] = {}
    if "jwks" in entry:
        keys = parse_jwks(entry["jwks"], f"{where}, jwks", strict=True)
    jwks_url = _url(entry["jwks_url"], f"{where}, jwks_url") if "jwks_url" in entry else None
    jku_allow = frozenset(
        _url(u, f"{where}, jku_allow") for u in _strings(entry.get("jku_allow", []), where)
    )
    if not keys and jwks_url is None and not jku_allow:
        raise TrustedClientsError(f"{where}: needs keys: jwks, jwks_url or jku_allow")
    servers = tuple(
        _fhir_base(u, f"{where}, fhir_servers")
        for u in _strings(entry.get("fhir_servers", []), where)
    )
    tenant = entry.get("tenant")
    if tenant is not None and (not isinstance(tenant, str) or not tenant):
        raise TrustedClientsError(f"{where}: tenant must be a non-empty string")
    name = entry.get("name", issuer)
    if not isinstance(name, str):
        raise TrustedClientsError(f"{where}: name must be a string")
    profile = entry.get("profile", "generic")
    if not isinstance(profile, str) or profile not in PROFILES:
        raise TrustedClientsError(
            f"{where}: profile {profile!r} is not one of {', '.join(sorted(PROFILES))}"
        )
    return TrustedClient(
        issuer, name, MappingProxyType(keys), jwks_url, jku_allow, servers, tenant, profile
    )


def parse_jwks(document: Any, where: str, *, strict: bool) -> dict[str, VerificationKey]:
    """The usable public keys of a JWK Set by kid.

    strict (a trust file): any bad key is an error. Not strict (a fetched set): keys we
    cannot use are skipped, as RFC 7517 asks, and private material is never accepted.
    """
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise TrustedClientsError(f'{where}: expected a JWK Set {{"keys": [...]}}')
    keys: dict[str, VerificationKey] = {}
    for index, jwk in enumerate(document["keys"]):
        try:
            key = _key(jwk, f"{where}, key {index}")
        except TrustedClientsError:
            if strict:
                raise
            continue
        if key.kid in keys:
            if strict:
                raise TrustedClientsError(f"{where}: kid {key.kid!r} appears twice")
            continue
        keys[key.kid] = key
    if strict and not keys:
        raise TrustedClientsError(f"{where}: has no keys")
    return keys


def _key(jwk: Any, where: str) -> VerificationKey:
    if not isinstance(jwk, dict):
        raise TrustedClientsError(f"{where}: expected a JWK object")
    kid, kty = jwk.get("kid"), jwk.get("kty")
    if not isinstance(kid, str) or not kid:
        raise TrustedClientsError(f"{where}: needs a kid (CDS Hooks requires one)")
    if kty not in _KEY_TYPES:
        raise TrustedClientsError(f"{where}: kty {kty!r} is not an asymmetric key type")
    if _SECRET_MEMBERS & set(jwk):
        raise TrustedClientsError(
            f"{where}: holds private key material; publish the public key only"
        )
    use = jwk.get("use")
    if use is not None and use != "sig":
        raise TrustedClientsError(f"{where}: use {use!r} is not 'sig'")
    ops = jwk.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        raise TrustedClientsError(f"{where}: key_ops does not allow 'verify'")
    alg = jwk.get("alg")
    if alg is not None and not isinstance(alg, str):
        raise TrustedClientsError(f"{where}: alg must be a string")
    try:
        parsed = PyJWK(jwk)
    except (PyJWKError, ValueError, TypeError) as exc:
        raise TrustedClientsError(f"{where}: not a usable key: {exc}") from None
    if kty == "RSA" and parsed.key.key_size < MIN_RSA_BITS:
        raise TrustedClientsError(f"{where}: RSA keys need at least {MIN_RSA_BITS} bits")
    crv = jwk.get("crv")
    return VerificationKey(kid, kty, crv if isinstance(crv, str) else None, alg, use, parsed.key)


def _strings(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TrustedClientsError(f"{where}: expected a list of URLs")
    return value


def _url(value: Any, where: str) -> str:
    """An absolute https URL (http only to a loopback host, for local tests and demos)."""
    if not isinstance(value, str):
        raise TrustedClientsError(f"{where}: expected a URL string")
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise TrustedClientsError(f"{where}: {value!r} is not an absolute https URL")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise TrustedClientsError(f"{where}: {value!r} must use https (http only on loopback)")
    if parts.username or parts.password or parts.fragment:
        raise TrustedClientsError(f"{where}: {value!r} must not carry credentials or a fragment")
    return value


def _fhir_base(value: Any, where: str) -> str:
    url = _url(value, where)
    base = normalise_base(url)
    if base is None or urlsplit(url).query:
        raise TrustedClientsError(
            f"{where}: {url!r} is not a plain base URL (a query, an encoded slash, "
            "a backslash or a control character)"
        )
    return base


def normalise_base(url: str) -> str | None:
    """A FHIR base URL as compared with `fhirServer`: normalised the way an HTTP server
    reads it (`data.fhir_client.normalise_url`: case, default port, percent-escapes, dot
    segments), without a trailing slash; None if it is ambiguous and so never allowed."""
    normalised = normalise_url(url)
    return normalised.rstrip("/") if normalised is not None else None
