"""Server processes for the benchmark: start, time to first answer, worker memory, stop.

Only processes started here are ever signalled, by their own pid.
"""

from __future__ import annotations

import http.client
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
READY = "Serving on "
START_TIMEOUT = 60.0


class BenchError(RuntimeError):
    """A server did not start or did not answer."""


@dataclass
class Server:
    name: str
    process: subprocess.Popen[str]
    host: str
    port: int
    log_path: Path
    listening_s: float  # spawn -> "Serving on" printed
    first_answer_s: float  # spawn -> first hook call answered 200

    def worker_pids(self) -> list[int]:
        return children(self.process.pid)

    def memory(self) -> list[tuple[int, float, float]]:
        """(pid, RSS MB, PSS MB) per worker."""
        return [(pid, *rss_pss_mb(pid)) for pid in self.worker_pids()]

    def stop(self, timeout: float = 20.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def children(pid: int) -> list[int]:
    found: list[int] = []
    task_dir = Path(f"/proc/{pid}/task")
    try:
        for task in task_dir.iterdir():
            text = (task / "children").read_text()
            found.extend(int(p) for p in text.split())
    except OSError:
        pass
    return sorted(set(found))


def rss_pss_mb(pid: int) -> tuple[float, float]:
    rss = pss = float("nan")
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1]) / 1024
            elif line.startswith("Pss:"):
                pss = int(line.split()[1]) / 1024
    except OSError:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) / 1024
        except OSError:
            pass
    return rss, pss


def service_command(workers: int) -> list[str]:
    exe = shutil.which("b12-cds")
    if exe is None:
        raise BenchError("b12-cds is not installed: run `pip install -e '.[dev]'`")
    return [exe, "serve", "--no-auth", "--port", "0", "--workers", str(workers)]


def floor_command(workers: int) -> list[str]:
    return [sys.executable, "-m", "bench.floor", "--port", "0", "--workers", str(workers)]


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("B12CDS_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(extra)
    return env


def start(
    name: str, argv: list[str], env: dict[str, str], probe_path: str, probe_body: bytes
) -> Server:
    """Spawn, wait for `Serving on URL`, then POST `probe_body` until it is answered 200."""
    log = tempfile.NamedTemporaryFile(prefix=f"bench-{name}-", suffix=".log", delete=False)
    started = time.perf_counter()
    process = subprocess.Popen(
        argv,
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    log.close()
    log_path = Path(log.name)
    url = _await_url(process, log_path)
    listening = time.perf_counter() - started
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            conn = http.client.HTTPConnection(host, port, timeout=30)
            conn.request("POST", probe_path, probe_body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            conn.close()
            if response.status == 200:
                break
            raise BenchError(f"{name}: first call answered {response.status}")
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.005)
    first = time.perf_counter() - started
    return Server(name, process, host, port, log_path, listening, first)


def _await_url(process: subprocess.Popen[str], log_path: Path) -> str:
    if process.stdout is None:
        raise BenchError("no stdout pipe")
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while time.monotonic() < deadline:
            if not selector.select(timeout=0.05):
                if process.poll() is not None:
                    break
                continue
            line = process.stdout.readline()
            if line.startswith(READY):
                return line[len(READY) :].strip()
            if not line and process.poll() is not None:
                break
    finally:
        selector.close()
    if process.poll() is None:
        process.kill()
    process.wait()
    tail = log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
    raise BenchError(f"server did not print its URL (exit {process.returncode}):\n{tail}")
