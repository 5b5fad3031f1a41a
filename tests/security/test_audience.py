"""A token's audience comes from configuration, never from the request.

Against the real two-worker JWT server on loopback (no B12CDS_PUBLIC_URL): a token minted
for another CDS service is refused however the request names its Host or X-Forwarded-*;
a token for this service is accepted whatever those headers say. With JWT auth on a
non-loopback address the service refuses to start without a configured public URL.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from cds_service.edge.app import create_app
from cds_service.settings import Settings, SettingsError
from cds_service.trust.auth import REASONS
from tests.security.conftest import JwtWorld
from tests.security.jwt_kit import ISSUER, SigningKey, claims, sign, write_trust_file
from tests.support.hook_calls import hook_request
from tests.support.live import ServiceStartError, start_b12_cds
from tests.support.schemas import assert_operation_outcome

HOOK = "/cds-services/b12-patient-view"
OTHER = "other-cds.example"


def call(world: JwtWorld, aud: str, **headers: str) -> requests.Response:
    token = sign(world.key, claims(aud))
    return requests.post(
        world.url(HOOK),
        json=hook_request(),
        headers={"Authorization": f"Bearer {token}", **headers},
        timeout=15,
    )


def assert_bad_aud(response: requests.Response) -> None:
    assert response.status_code == 401, response.text
    assert assert_operation_outcome(response.json()) == f"unauthorized: {REASONS['bad_aud']}"


@pytest.mark.parametrize(
    ("aud", "headers"),
    [
        (f"http://{OTHER}{HOOK}", {"Host": OTHER}),  # the reported replay
        (f"https://{OTHER}{HOOK}", {"Host": OTHER, "X-Forwarded-Proto": "https"}),
        (f"http://{OTHER}{HOOK}", {"X-Forwarded-Host": OTHER}),
        (f"http://{OTHER}{HOOK}", {"Forwarded": f"host={OTHER};proto=http"}),
        ("https://{here}" + HOOK, {"X-Forwarded-Proto": "https"}),  # loopback is no proxy
        ("https://{here}" + HOOK, {"X-Forwarded-Ssl": "on"}),
        ("http://{here}/cds-services/b12-order-sign", {}),  # another endpoint of this one
    ],
)
def test_a_token_for_another_audience_is_refused_whatever_the_headers_say(
    jwt_world: JwtWorld, aud: str, headers: dict[str, str]
) -> None:
    here = urlsplit(jwt_world.service.base_url).netloc
    assert_bad_aud(call(jwt_world, aud.format(here=here), **headers))


@pytest.mark.parametrize(
    "headers", [{}, {"Host": OTHER}, {"X-Forwarded-Proto": "https", "X-Forwarded-Host": OTHER}]
)
def test_a_token_for_this_service_is_accepted_whatever_the_headers_say(
    jwt_world: JwtWorld, headers: dict[str, str]
) -> None:
    response = call(jwt_world, jwt_world.url(HOOK), **headers)
    assert response.status_code == 200, response.text


def test_any_loopback_name_with_this_port_is_this_service(jwt_world: JwtWorld) -> None:
    port = urlsplit(jwt_world.service.base_url).port
    for name in ("localhost", "127.0.0.1"):
        assert call(jwt_world, f"http://{name}:{port}{HOOK}").status_code == 200
    assert_bad_aud(call(jwt_world, f"http://localhost:{(port or 0) + 1}{HOOK}"))


def test_jwt_auth_off_loopback_needs_a_configured_audience(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="B12CDS_PUBLIC_URL"):
        Settings.from_env({}, host="0.0.0.0")  # noqa: S104  # the point
    with pytest.raises(ServiceStartError) as failed:  # refused before anything is bound
        start_b12_cds("--host", "0.0.0.0", env={"B12CDS_DATABASE_URL": f"sqlite:///{tmp_path}/d"})  # noqa: S104
    assert "B12CDS_PUBLIC_URL" in str(failed.value)
    assert Settings.from_env({"B12CDS_PUBLIC_URL": "https://cds.example.org"}, host="0.0.0.0")  # noqa: S104
    assert Settings.from_env({"B12CDS_AUDIENCE_URLS": "https://a.example.org"}, host="0.0.0.0")  # noqa: S104
    with pytest.raises(SettingsError, match="B12CDS_AUDIENCE_URLS"):
        Settings.from_env({"B12CDS_AUDIENCE_URLS": "https://a.example.org?x=1"})


def test_the_configured_audiences_are_the_only_ones(tmp_path: Path) -> None:
    key = SigningKey.generate()
    trust = write_trust_file(tmp_path / "c.json", {ISSUER: {"jwks": {"keys": [key.public_jwk()]}}})
    app = create_app(
        {
            "trusted_clients": str(trust),
            "public_url": "https://cds.example.org/b12",
            "audience_urls": "https://cds-internal.example.org",
            "database_url": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        }
    )
    client = app.test_client()

    def post(aud: str, **headers: str) -> int:
        token = sign(key, claims(aud))
        return client.post(
            HOOK, json=hook_request(), headers={"Authorization": f"Bearer {token}", **headers}
        ).status_code

    assert post("https://cds.example.org/b12" + HOOK) == 200
    assert post("https://cds-internal.example.org" + HOOK) == 200
    assert post("http://localhost" + HOOK) == 401  # the request's own URL: not configured
    assert post(f"http://{OTHER}{HOOK}", Host=OTHER) == 401
