"""The database the JWT replay check needs goes away under a running JWT server: hook
calls are 503 with Retry-After (the EHR's token is not called bad), logged, and counted.

The choice (see trust/auth.py): not 401, since the token may be good; not a per-worker
replay cache either, since that would accept a replayed token on every other worker and
machine for as long as the outage lasts, which an attacker able to provoke one would use.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.security.jwt_kit import ISSUER, SigningKey, claims, sign, write_trust_file
from tests.support.hook_calls import hook_request
from tests.support.live import LiveService, start_b12_cds
from tests.support.postgres import PostgresServer
from tests.support.schemas import assert_operation_outcome

HOOK = "/cds-services/b12-patient-view"


@pytest.fixture
def world(
    postgres_server: PostgresServer, tmp_path: Path
) -> Iterator[tuple[LiveService, SigningKey, str]]:
    key = SigningKey.generate()
    trust = write_trust_file(
        tmp_path / "clients.json", {ISSUER: {"jwks": {"keys": [key.public_jwk()]}}}
    )
    database_url = postgres_server.new_database()
    service = start_b12_cds(
        "--workers",
        "2",
        env={"B12CDS_TRUSTED_CLIENTS": str(trust), "B12CDS_DATABASE_URL": database_url},
    )
    yield service, key, database_url
    service.stop()


def drop(database_url: str) -> None:
    url = make_url(database_url)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{url.database}" WITH (FORCE)'))
    admin.dispose()


def post(service: LiveService, key: SigningKey) -> requests.Response:
    token = sign(key, claims(service.base_url + HOOK))
    return requests.post(
        service.base_url + HOOK,
        json=hook_request(),
        headers={"Authorization": f"Bearer {token}"},
        timeout=20,
    )


def test_a_database_outage_is_503_not_401(world: tuple[LiveService, SigningKey, str]) -> None:
    service, key, database_url = world
    assert post(service, key).status_code == 200
    drop(database_url)
    for _ in range(4):  # on both workers
        response = post(service, key)
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"].isdigit()
        assert "WWW-Authenticate" not in response.headers
        assert "checked for replay" in assert_operation_outcome(response.json())
    log = service.log_text()
    assert '"replay_check_failed"' in log
    assert '"auth_reason":"replay_check_unavailable"' in log
    metrics = requests.get(service.base_url + "/metrics", timeout=10).text
    assert 'b12cds_hook_calls_total{service="b12-patient-view",status="503"} 4.0' in metrics
