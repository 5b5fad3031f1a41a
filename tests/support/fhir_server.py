"""A real FHIR R4 server for tests: Medplum's in-memory engine behind tests/fhirserver/server.mjs.

Tests talk to it over real HTTP on loopback, exactly as the service would talk to an EHR.
Use `start_fhir_server` directly, or register this module as a plugin
(`pytest_plugins = ["tests.support.fhir_server"]`) to get the session fixtures
`fhir_server` (no auth) and `fhir_server_with_token` (needs `Bearer TEST_TOKEN`),
both preloaded with `example_bundle()`.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.synthetic_fhir import example_bundle

SERVER_DIR = Path(__file__).resolve().parent.parent / "fhirserver"
NODE = SERVER_DIR / "node_modules" / "node" / "bin" / "node"
READY_PREFIX = "FHIR server ready on "
TEST_TOKEN = "test-fhir-token-3f9c"  # sample secret, loopback test server only
FHIR_JSON = "application/fhir+json"

__all__ = [
    "TEST_TOKEN",
    "FhirServer",
    "example_bundle",
    "fhir_server",
    "fhir_server_with_token",
    "install_fhir_server",
    "start_fhir_server",
]


class FhirServerError(RuntimeError):
    """The test FHIR server could not be installed, started, or refused a load."""


@dataclass
class FhirServer:
    """A running test FHIR server; `base_url` ends in `/fhir` (no trailing slash)."""

    base_url: str
    token: str | None
    process: subprocess.Popen[bytes]
    log_path: Path
    startup_seconds: float
    last_load_seconds: float = 0.0
    _session: requests.Session = field(default_factory=requests.Session, repr=False)

    @property
    def origin(self) -> str:
        return self.base_url.removesuffix("/fhir")

    def headers(self) -> dict[str, str]:
        """Headers a well-behaved client sends (with the Bearer token when one is configured)."""
        headers = {"Accept": FHIR_JSON}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def load(self, bundle: dict[str, Any]) -> dict[str, Any]:
        """POST a transaction Bundle; returns the transaction-response Bundle or raises."""
        started = time.perf_counter()
        response = self._session.post(
            self.base_url,
            json=bundle,
            headers={**self.headers(), "Content-Type": FHIR_JSON},
            timeout=120,
        )
        self.last_load_seconds = time.perf_counter() - started
        if response.status_code != 200:
            raise FhirServerError(
                f"load failed: HTTP {response.status_code}: {response.text[:2000]}"
            )
        result: dict[str, Any] = response.json()
        return result

    def get(self, path_or_url: str, **params: str) -> requests.Response:
        """GET relative to the base (`"Patient/123"`) or an absolute URL (a `next` link)."""
        url = path_or_url if "://" in path_or_url else f"{self.base_url}/{path_or_url}"
        return self._session.get(url, params=params or None, headers=self.headers(), timeout=30)

    def request_log(self) -> list[dict[str, Any]]:
        """Requests received so far: method, path, query, bearer (sent?), authorized. No tokens."""
        log: list[dict[str, Any]] = self._session.get(
            f"{self.origin}/_test/requests", timeout=10
        ).json()
        return log

    def clear_request_log(self) -> None:
        self._session.delete(f"{self.origin}/_test/requests", timeout=10).raise_for_status()

    def reset_data(self) -> None:
        """Delete every resource (the server keeps running)."""
        self._session.delete(f"{self.origin}/_test/data", timeout=10).raise_for_status()

    def stop(self) -> None:
        self._session.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def install_fhir_server() -> None:
    """Run tests/fhirserver/install.sh (a ~10 ms no-op once installed)."""
    result = subprocess.run(
        ["bash", str(SERVER_DIR / "install.sh")], capture_output=True, text=True, timeout=600
    )
    if result.returncode != 0:
        raise FhirServerError(f"install.sh failed ({result.returncode}):\n{result.stderr[-4000:]}")


def start_fhir_server(
    tmp_path_factory: pytest.TempPathFactory,
    token: str | None = None,
    bundle: dict[str, Any] | None = None,
    *,
    validate: bool = True,
    page_size: int | None = None,
    startup_timeout: float = 30.0,
) -> FhirServer:
    """Install if needed, start on a free loopback port, wait until ready, then load `bundle`.

    The caller owns the server and must call `stop()`. Resources are validated against the R4
    StructureDefinitions on load unless `validate=False`, so a broken fixture fails loudly.
    `page_size` (default 20, `_count` up to 1000) is both the default page and the most a
    `_count` may ask for, as on a real server configured with a small page size.
    """
    install_fhir_server()
    log_path = tmp_path_factory.mktemp("fhirserver") / "server.log"
    args = [str(NODE), str(SERVER_DIR / "server.mjs"), "--port", "0"]
    if token:
        args += ["--token", token]
    if not validate:
        args.append("--no-validate")
    if page_size is not None:
        args += ["--page-size", str(page_size)]
    started = time.perf_counter()
    with log_path.open("wb") as log:
        process = subprocess.Popen(args, cwd=SERVER_DIR, stdout=log, stderr=subprocess.STDOUT)
    base_url = _wait_until_ready(process, log_path, started + startup_timeout)
    server = FhirServer(base_url, token, process, log_path, time.perf_counter() - started)
    if bundle is not None:
        try:
            server.load(bundle)
        except BaseException:
            server.stop()
            raise
    return server


def _wait_until_ready(process: subprocess.Popen[bytes], log_path: Path, deadline: float) -> str:
    while time.perf_counter() < deadline:
        for line in log_path.read_text(errors="replace").splitlines():
            if line.startswith(READY_PREFIX):
                return line.removeprefix(READY_PREFIX).strip()
        if process.poll() is not None:
            break
        time.sleep(0.05)
    if process.poll() is None:
        process.kill()
        process.wait(timeout=5)
    tail = log_path.read_text(errors="replace")[-4000:]
    raise FhirServerError(
        f"test FHIR server did not become ready (exit {process.returncode}):\n{tail}"
    )


@pytest.fixture(scope="session")
def fhir_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FhirServer]:
    """A server without auth, preloaded with `example_bundle()`."""
    server = start_fhir_server(tmp_path_factory, bundle=example_bundle())
    yield server
    server.stop()


@pytest.fixture(scope="session")
def fhir_server_with_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FhirServer]:
    """A server that answers 401 unless `Authorization: Bearer TEST_TOKEN`, preloaded likewise."""
    server = start_fhir_server(tmp_path_factory, token=TEST_TOKEN, bundle=example_bundle())
    yield server
    server.stop()
