"""Real service processes for tests: `b12-cds serve` (or a test entry module) on a free port.

The process is started exactly as a user would start it, its printed `Serving on URL`
line is awaited, and its stderr (JSON log lines) goes to a file tests may read.
"""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
READY_PREFIX = "Serving on "
START_TIMEOUT_SECONDS = 30


class ServiceStartError(RuntimeError):
    """The service process exited or stayed silent instead of printing its URL."""


@dataclass
class LiveService:
    base_url: str
    process: subprocess.Popen[str]
    log_path: Path
    startup_seconds: float

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout: float = 15) -> int:
        """SIGTERM (graceful stop) and wait; returns the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        return self.process.returncode


def b12_cds() -> str:
    found = shutil.which("b12-cds")
    if found is None:
        raise ServiceStartError("b12-cds is not installed: run `pip install -e '.[dev]'`")
    return found


def service_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The test process environment without stray B12CDS_* settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("B12CDS_")}
    env.update(extra or {})
    return env


def start_service(
    argv: Sequence[str], env: Mapping[str, str] | None = None, name: str = "b12-cds"
) -> LiveService:
    """Start `argv`, wait for its `Serving on URL` line, and return the running service."""
    log_file = tempfile.NamedTemporaryFile(prefix=f"{name}-", suffix=".log", delete=False)
    started = time.perf_counter()
    process = subprocess.Popen(
        list(argv),
        cwd=REPO,
        env=service_env(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=log_file,
        text=True,
    )
    log_file.close()
    log_path = Path(log_file.name)
    url = _await_url(process, log_path)
    return LiveService(url, process, log_path, time.perf_counter() - started)


def start_b12_cds(*args: str, env: Mapping[str, str] | None = None) -> LiveService:
    return start_service([b12_cds(), "serve", "--port", "0", *args], env)


def start_frozen(env: Mapping[str, str] | None = None, *args: str) -> LiveService:
    return start_service(
        [sys.executable, "-m", "tests.support.frozen_serve", "--port", "0", *args], env, "frozen"
    )


def _await_url(process: subprocess.Popen[str], log_path: Path) -> str:
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    try:
        while time.monotonic() < deadline:
            if not selector.select(timeout=0.1):
                if process.poll() is not None:
                    break
                continue
            line = process.stdout.readline()
            if line.startswith(READY_PREFIX):
                return line[len(READY_PREFIX) :].strip()
            if not line and process.poll() is not None:
                break
    finally:
        selector.close()
    process.kill()
    process.wait()
    tail = log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
    raise ServiceStartError(f"service did not print its URL (exit {process.returncode}):\n{tail}")
