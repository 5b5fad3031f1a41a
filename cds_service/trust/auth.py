"""Who may call: the CDS Hooks client JWT (CDS Hooks 2.0 section "Trusting CDS Clients").

`authenticate(request)` is the single seam. It returns the `Caller` - which trusted
client it is and where that client's FHIR access token may be sent - or raises
`AuthRejected` (401). With `B12CDS_AUTH=none` (loopback only) everyone is an anonymous
caller without limits.

The checks, in order: a Bearer token; its header (`alg` on the allow-list, `typ` JWT,
a `kid`); `iss` a trusted client; `jku`, if sent, on that client's allow-list; the key
chosen by `kid` from the client's inline keys, then its `jwks_url` (or the allowed
`jku`); the key's type and curve fit `alg` (the token never picks the key type);
signature, `aud` = the exact URL called, `exp`/`iat` with a small leeway, a bounded
lifetime, `jti`, `tenant`; and last, `jti` never seen before, in the database every
worker shares. Every refusal is logged with a reason code and never the token.

"The URL called" comes from configuration only (`Audience`): the public base URL(s), or,
on a loopback address without one, the loopback address and port the server listens on.
Never the request's Host or X-Forwarded-* headers: those are the caller's to choose, so
a token minted for another CDS service could otherwise be replayed here by naming that
service's host.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jwt
from flask import Flask, Request, current_app, g
from jwt.exceptions import InvalidJTIError

from cds_service.protocol.errors import Unauthorized, Unavailable
from cds_service.settings import Settings, is_loopback
from cds_service.store import UNAVAILABLE, Store
from cds_service.store.replay import remember_jti
from cds_service.trust.jwks import JwksCache, JwksUnavailable
from cds_service.trust.trusted_clients import (
    TrustedClient,
    TrustedClients,
    VerificationKey,
    load_trusted_clients,
)

log = logging.getLogger(__name__)

LEEWAY_SECONDS = 60
MAX_LIFETIME_SECONDS = 3600  # best practice: client JWTs live minutes, an hour at most
MAX_TOKEN_CHARS = 16_384
MAX_JTI_CHARS = 255
# alg -> (kty, allowed curves or None); the verifying key must be of this type
ALGORITHMS: Mapping[str, tuple[str, frozenset[str] | None]] = {
    "ES256": ("EC", frozenset({"P-256"})),
    "ES384": ("EC", frozenset({"P-384"})),
    "ES512": ("EC", frozenset({"P-521"})),
    "RS256": ("RSA", None),
    "RS384": ("RSA", None),
    "RS512": ("RSA", None),
    "PS256": ("RSA", None),
    "PS384": ("RSA", None),
    "PS512": ("RSA", None),
    "EdDSA": ("OKP", frozenset({"Ed25519", "Ed448"})),
}
REQUIRED_CLAIMS = ["iss", "aud", "exp", "iat", "jti"]

# reason code -> the short text a client sees (never what the token contained)
REASONS: Mapping[str, str] = {
    "no_trusted_clients": (
        "no trusted CDS client is configured: list trusted issuers in B12CDS_TRUSTED_CLIENTS, "
        "or for local testing run 'b12-cds serve --no-auth' on a loopback address"
    ),
    "missing_token": "a CDS Hooks client JWT is required (Authorization: Bearer <JWT>)",
    "malformed": "the bearer token is not a well-formed JWT",
    "alg_not_allowed": "the JWT algorithm is not accepted",
    "bad_typ": "the JWT typ must be JWT",
    "missing_kid": "the JWT header needs a kid",
    "untrusted_issuer": "the JWT issuer is not a trusted client",
    "untrusted_jku": "the JWT jku is not allowed for this issuer",
    "unknown_kid": "no key with this kid is known for this issuer",
    "jwks_unavailable": "the issuer's keys could not be fetched",
    "key_mismatch": "the key named by kid does not fit the JWT algorithm",
    "bad_signature": "the JWT signature is invalid",
    "bad_aud": "the JWT aud is not the URL of this endpoint",
    "expired": "the JWT has expired",
    "not_yet_valid": "the JWT is not valid yet (iat or nbf in the future)",
    "missing_claim": "the JWT lacks a required claim (iss, aud, exp, iat, jti)",
    "bad_claim": "a JWT claim has the wrong type",
    "lifetime_too_long": "the JWT lifetime (exp - iat) is longer than one hour",
    "bad_tenant": "the JWT tenant is not the one configured for this issuer",
    "replayed_jti": "this JWT (jti) was already used",
}
REPLAY_UNAVAILABLE = (
    "the JWT could not be checked for replay: the database is unavailable; "
    "the token was not used, retry later"
)


class AuthRejected(Unauthorized):
    def __init__(self, reason: str) -> None:
        super().__init__(f"unauthorized: {REASONS[reason]}")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Caller:
    """Who called. `fhir_servers` None means no restriction (auth off)."""

    issuer: str | None
    fhir_servers: tuple[str, ...] | None
    tenant: str | None = None
    profile: str = "generic"  # the caller's card profile (B12CDS_TRUSTED_CLIENTS `profile`)


ANONYMOUS = Caller(issuer=None, fhir_servers=None)
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


@dataclass(slots=True)
class Audience:
    """The base URLs a token's `aud` may name (plus the endpoint path), from configuration.

    `B12CDS_PUBLIC_URL` and `B12CDS_AUDIENCE_URLS` when set (required with JWT auth on a
    non-loopback address, see `Settings.validate`). Otherwise the server is on loopback
    and the bases are `http://<loopback name>:<port>`: any loopback URL with this port
    reaches this very process. With port 0 the port is known only once the socket is
    bound, so the server calls `listening_on` before workers fork.
    """

    settings: Settings
    port: int | None = None
    _bases: tuple[str, ...] = field(default=(), init=False)

    def __post_init__(self) -> None:
        self._bases = self._compute()

    def listening_on(self, port: int) -> None:
        self.port = port
        self._bases = self._compute()

    def _compute(self) -> tuple[str, ...]:
        configured = tuple(
            dict.fromkeys(u for u in (self.settings.public_url, *self.settings.audience_urls) if u)
        )
        if configured:
            return configured
        port = self.port if self.port is not None else self.settings.port
        if not is_loopback(self.settings.host) or not port:
            return ()  # nothing is accepted (Settings refuses to start this way with JWT)
        return tuple(f"http://{name}:{port}" for name in LOOPBACK_NAMES)

    @property
    def bases(self) -> tuple[str, ...]:
        return self._bases

    def for_path(self, path: str) -> list[str]:
        return [base + path for base in self._bases]


@dataclass(frozen=True, slots=True)
class Authenticator:
    settings: Settings
    clients: TrustedClients
    jwks: JwksCache
    store: Store
    audience: Audience

    def authenticate(self, request: Request) -> Caller:
        if not self.settings.auth_required:
            return ANONYMOUS
        try:
            caller = self._verify(request)
        except AuthRejected as exc:
            g.log_fields["auth_reason"] = exc.reason
            log.warning("auth_rejected", extra={"auth_reason": exc.reason})
            raise
        g.log_fields["client"] = caller.issuer
        return caller

    def _verify(self, request: Request) -> Caller:
        if not self.clients:
            raise AuthRejected("no_trusted_clients")
        token = _bearer(request)
        header = _header(token)
        alg = header["alg"]
        client = self.clients.get(_unverified_issuer(token))
        if client is None:
            raise AuthRejected("untrusted_issuer")
        jku = header.get("jku")
        if jku is not None and (not isinstance(jku, str) or not client.jku_allowed(jku)):
            raise AuthRejected("untrusted_jku")
        key = self._key(client, header["kid"], jku)
        _check_key_fits(key, alg)
        claims = self._decode(token, key, alg, client, self.audience.for_path(request.path))
        self._check_replay(client, claims)
        return Caller(client.issuer, client.fhir_servers, client.tenant, client.profile)

    def _key(self, client: TrustedClient, kid: str, jku: str | None) -> VerificationKey:
        key = client.keys.get(kid)
        url = jku or client.jwks_url
        if key is None and url is not None:
            try:
                key = self.jwks.key(url, kid)
            except JwksUnavailable:
                raise AuthRejected("jwks_unavailable") from None
        if key is None:
            raise AuthRejected("unknown_kid")
        return key

    def _decode(
        self, token: str, key: VerificationKey, alg: str, client: TrustedClient, aud: list[str]
    ) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key.key,
                algorithms=[alg],
                audience=aud,
                issuer=client.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": REQUIRED_CLAIMS, "strict_aud": False},
            )
        except jwt.InvalidTokenError as exc:
            raise AuthRejected(_reason(exc)) from None
        exp, iat = claims["exp"], claims["iat"]
        if not all(isinstance(t, (int, float)) and not isinstance(t, bool) for t in (exp, iat)):
            raise AuthRejected("bad_claim")
        if exp - iat > MAX_LIFETIME_SECONDS:
            raise AuthRejected("lifetime_too_long")
        jti = claims["jti"]
        if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_CHARS:
            raise AuthRejected("bad_claim")
        if client.tenant is not None and claims.get("tenant") != client.tenant:
            raise AuthRejected("bad_tenant")
        return claims

    def _check_replay(self, client: TrustedClient, claims: Mapping[str, Any]) -> None:
        expires = datetime.fromtimestamp(int(claims["exp"]) + LEEWAY_SECONDS, UTC)
        try:
            fresh = remember_jti(self.store, f"{client.issuer} {claims['jti']}", expires)
        except UNAVAILABLE as exc:
            # 503, not 401: the token may well be good, and the EHR must not be told
            # otherwise. Not a per-worker fallback cache either: that would accept a
            # replay on every other worker and machine while the database is down.
            g.log_fields["auth_reason"] = "replay_check_unavailable"
            log.error("replay_check_failed", extra={"error_type": type(exc).__name__})
            raise Unavailable(REPLAY_UNAVAILABLE) from None
        if not fresh:
            raise AuthRejected("replayed_jti")


def install_auth(app: Flask, settings: Settings, store: Store) -> None:
    """Read the trust file (TrustedClientsError stops start-up) and attach the checker."""
    clients = load_trusted_clients(settings.trusted_clients)
    if settings.auth_required and not clients:
        log.warning("auth_no_trusted_clients")  # every authenticated call will be a 401
    app.extensions["b12cds.auth"] = Authenticator(
        settings, clients, JwksCache(), store, Audience(settings)
    )


def authenticate(request: Request) -> Caller:
    """The caller of the current request, or AuthRejected (401)."""
    checker: Authenticator = current_app.extensions["b12cds.auth"]
    return checker.authenticate(request)


def _bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthRejected("missing_token")
    if len(token) > MAX_TOKEN_CHARS or token.count(".") != 2:
        raise AuthRejected("malformed")
    return token


def _header(token: str) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise AuthRejected("malformed") from None
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in ALGORITHMS:
        raise AuthRejected("alg_not_allowed")
    typ = header.get("typ")
    if typ is not None and (not isinstance(typ, str) or typ.upper() != "JWT"):
        raise AuthRejected("bad_typ")
    if "crit" in header:  # no extension is understood here, so none may be critical
        raise AuthRejected("malformed")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise AuthRejected("missing_kid")
    return header


def _unverified_issuer(token: str) -> str:
    """`iss`, read only to choose whose keys to verify with; trusted after the signature."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        raise AuthRejected("malformed") from None
    issuer = claims.get("iss")
    if not isinstance(issuer, str):
        raise AuthRejected("missing_claim" if issuer is None else "bad_claim")
    return issuer


def _check_key_fits(key: VerificationKey, alg: str) -> None:
    kty, curves = ALGORITHMS[alg]
    if key.kty != kty or (curves is not None and key.crv not in curves):
        raise AuthRejected("key_mismatch")
    if key.alg is not None and key.alg != alg:
        raise AuthRejected("key_mismatch")


def _reason(exc: jwt.InvalidTokenError) -> str:
    if isinstance(exc, jwt.ExpiredSignatureError):
        return "expired"
    if isinstance(exc, jwt.ImmatureSignatureError):
        return "not_yet_valid"
    if isinstance(exc, jwt.InvalidAudienceError):
        return "bad_aud"
    if isinstance(exc, jwt.InvalidIssuerError):
        return "untrusted_issuer"
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return "missing_claim"
    if isinstance(exc, jwt.InvalidSignatureError):
        return "bad_signature"
    if isinstance(exc, jwt.InvalidAlgorithmError):
        return "alg_not_allowed"
    if isinstance(exc, (jwt.InvalidIssuedAtError, InvalidJTIError)):
        return "bad_claim"
    return "malformed"
