"""Loopback load: latency at concurrency 1 and throughput at concurrency 8.

Each client thread keeps one `http.client` connection alive (gunicorn's keep-alive is the
service's own setting) and sends the same pre-serialised body. Every run is bounded both
by a request count and by wall time.

Servers and bodies that are compared are measured interleaved (`latencies`: call by
call; `throughputs`: in alternating rounds), because this kind of machine has slow and fast
spells lasting seconds; measured one after the other, a spell would land on one server
and not the other and the ratio would be noise.
"""

from __future__ import annotations

import http.client
import statistics
import threading
import time
from dataclasses import dataclass

HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


class LoadError(RuntimeError):
    """A call was not answered 200."""


@dataclass(frozen=True, slots=True)
class Latency:
    count: int
    p50_ms: float
    p95_ms: float
    p99_ms: float


@dataclass(frozen=True, slots=True)
class Throughput:
    concurrency: int
    count: int
    seconds: float

    @property
    def rps(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0


class _Client:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.conn = http.client.HTTPConnection(host, port, timeout=60)

    def post(self, path: str, body: bytes) -> bytes:
        for attempt in (1, 2):
            try:
                self.conn.request("POST", path, body, HEADERS)
                response = self.conn.getresponse()
                data = response.read()
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()  # the server closed an idle keep-alive connection
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                if attempt == 2:
                    raise
                continue
            if response.status != 200:
                raise LoadError(f"{path}: HTTP {response.status}: {data[:300]!r}")
            if response.getheader("Connection", "").lower() == "close":
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            return data
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(q / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


Target = tuple[str, int, str, bytes]  # host, port, path, body


def latencies(
    targets: dict[str, Target], *, count: int, seconds: float, warmup: int
) -> dict[str, Latency]:
    """Sequential calls, taking turns target by target (one keep-alive connection each):
    p50/p95/p99 in ms per target; `seconds` is the time budget per target."""
    clients = {name: _Client(host, port) for name, (host, port, _, _) in targets.items()}
    samples: dict[str, list[float]] = {name: [] for name in targets}
    try:
        for _ in range(warmup):
            for name, (_, _, path, body) in targets.items():
                clients[name].post(path, body)
        deadline = time.perf_counter() + seconds * len(targets)
        taken = 0
        while taken < count and (taken < 5 or time.perf_counter() < deadline):
            for name, (_, _, path, body) in targets.items():
                client = clients[name]
                started = time.perf_counter()
                client.post(path, body)
                samples[name].append((time.perf_counter() - started) * 1000)
            taken += 1
    finally:
        for client in clients.values():
            client.close()
    found: dict[str, Latency] = {}
    for name, values in samples.items():
        values.sort()
        found[name] = Latency(
            len(values), statistics.median(values), percentile(values, 95), percentile(values, 99)
        )
    return found


def throughputs(
    servers: dict[str, tuple[str, int]],
    path: str,
    body: bytes,
    *,
    concurrency: int,
    count: int,
    seconds: float,
    rounds: int = 4,
) -> dict[str, Throughput]:
    """`throughput` for several servers in alternating rounds; counts and times summed."""
    totals = {name: (0, 0.0) for name in servers}
    for _ in range(rounds):
        for name, (host, port) in servers.items():
            done, elapsed = totals[name]
            part = throughput(
                host,
                port,
                path,
                body,
                concurrency=concurrency,
                count=max(1, count // rounds),
                seconds=seconds / rounds,
            )
            totals[name] = (done + part.count, elapsed + part.seconds)
    return {name: Throughput(concurrency, done, took) for name, (done, took) in totals.items()}


def throughput(
    host: str, port: int, path: str, body: bytes, *, concurrency: int, count: int, seconds: float
) -> Throughput:
    """`concurrency` clients in a closed loop until `count` calls or `seconds` have passed."""
    clients = [_Client(host, port) for _ in range(concurrency)]
    for client in clients:
        client.post(path, body)  # connect and warm every worker thread first
    lock = threading.Lock()
    done = 0
    errors: list[BaseException] = []
    start = threading.Barrier(concurrency + 1)
    stop_at = [0.0]

    def run(client: _Client) -> None:
        nonlocal done
        start.wait()
        while True:
            with lock:
                if done >= count or time.perf_counter() >= stop_at[0]:
                    return
            try:
                client.post(path, body)
            except BaseException as exc:
                errors.append(exc)
                return
            with lock:
                done += 1

    threads = [threading.Thread(target=run, args=(c,), daemon=True) for c in clients]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    stop_at[0] = began + seconds
    start.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    for client in clients:
        client.close()
    if errors:
        raise errors[0]
    return Throughput(concurrency, done, elapsed)
