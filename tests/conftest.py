"""Suite-wide fixtures: the real service, started once per session.

`live_server`: `b12-cds serve --no-auth` on a free port (today = the real date).
`frozen_server`: the same gunicorn server code with today frozen at 2026-11-25
(tests/support/frozen_serve.py), for tests whose answer depends on the date.
Both yield a `LiveService` (`.base_url`, `.log_text()`); both are stopped with SIGTERM.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.live import LiveService, start_b12_cds, start_frozen


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    service = start_b12_cds("--no-auth", env=_own_database(tmp_path_factory))
    yield service
    service.stop()


@pytest.fixture(scope="session")
def frozen_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    service = start_frozen(_own_database(tmp_path_factory))
    yield service
    service.stop()


@pytest.fixture(scope="session")
def base_url(live_server: LiveService) -> str:
    return live_server.base_url


def _own_database(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A fresh SQLite store per server, so tests never write into the working tree."""
    folder = tmp_path_factory.mktemp("store")
    return {"B12CDS_DATABASE_URL": f"sqlite:///{folder}/b12cds.sqlite3"}
