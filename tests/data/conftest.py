"""Servers shared by the data-layer tests, each started once per session.

- `scenario_fhir`: the real test FHIR server (Medplum engine), owned by these tests: each test
  loads the data it needs (after a reset), so scenarios that share a patient cannot mix.
- `fault_fhir`: the fault-injecting server (tests/data/fault_server.py).
- `fault_service`: the real service (frozen clock) with a small budget,
  B12CDS_FHIR_TIMEOUT=1 s, and a page cap of 3, for faults and truncation.
The suite-wide `frozen_server` (default budget 5 s, cap 10) runs the scenarios.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.data.fault_server import FaultServer
from tests.support.fhir_server import FhirServer, fhir_server_with_token, start_fhir_server
from tests.support.live import LiveService, start_frozen

__all__ = ["fhir_server_with_token"]  # the session fixture, shared with other suites

FAULT_TIMEOUT_S = 1.0
FAULT_PAGE_CAP = 3


@pytest.fixture(scope="session")
def scenario_fhir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FhirServer]:
    server = start_fhir_server(tmp_path_factory)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def fault_fhir() -> Iterator[FaultServer]:
    server = FaultServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def fault_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    folder = tmp_path_factory.mktemp("fault-store")
    service = start_frozen(
        {
            "B12CDS_DATABASE_URL": f"sqlite:///{folder}/b12cds.sqlite3",
            "B12CDS_FHIR_TIMEOUT": str(FAULT_TIMEOUT_S),
            "B12CDS_FHIR_PAGE_CAP": str(FAULT_PAGE_CAP),
        }
    )
    yield service
    service.stop()
