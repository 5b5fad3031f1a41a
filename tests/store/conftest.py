"""Fixtures for the store suites: every test runs against SQLite and a real PostgreSQL.

`database_url` is a fresh, empty database per test (a temp SQLite file, or a new
database on the session's PostgreSQL server on loopback). `service` is the real
gunicorn server (frozen clock, 3 workers) writing to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.live import LiveService
from tests.support.postgres import PostgresServer, start_postgres
from tests.support.store_calls import start_store_service

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/b12cds.sqlite3"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.new_database()


@pytest.fixture
def service(database_url: str) -> Iterator[LiveService]:
    live = start_store_service(database_url, workers=3)
    yield live
    live.stop()
