"""Slow and stalled clients against the real server (two workers): they hold no application
thread, normal calls keep their latency meanwhile, and the header and body deadlines
close them. Bounded: 240 connections on loopback for a few seconds, then closed."""

from __future__ import annotations

import json
import socket
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.support.hook_calls import hook_request
from tests.support.live import LiveService, start_b12_cds
from tests.support.raw_http import connect, read_answer, request_head

HOOK = "/cds-services/b12-patient-view"
STALLED = 240  # half with a partial head, half with a partial body
DEADLINE_S = 6  # header and body timeout of the server under test
CALLS = 200
BODY = json.dumps(hook_request())


def start(tmp: Path) -> LiveService:
    return start_b12_cds(
        "--no-auth",
        "--workers",
        "2",
        env={
            "B12CDS_DATABASE_URL": f"sqlite:///{tmp / 'b12cds.sqlite3'}",
            "B12CDS_HEADER_TIMEOUT": str(DEADLINE_S),
            "B12CDS_BODY_TIMEOUT": str(DEADLINE_S),
        },
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    service = start(tmp_path_factory.mktemp("slow-clients"))
    yield service
    assert service.stop() == 0


def stall(base_url: str, count: int) -> list[socket.socket]:
    """`count` connections that each send part of a request and then nothing."""
    opened = []
    for index in range(count):
        sock = connect(base_url, timeout=DEADLINE_S + 10)
        if index % 2:
            sock.sendall(b"POST " + HOOK.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le")
        else:
            head = request_head(
                "POST", HOOK, "Content-Type: application/json", "Content-Length: 5000"
            )
            sock.sendall(head + b'{"hook": "patient-view", ')
        opened.append(sock)
    return opened


def latencies(base_url: str, count: int) -> list[float]:
    found = []
    with requests.Session() as session:
        for _ in range(count):
            started = time.perf_counter()
            response = session.post(
                base_url + HOOK,
                data=BODY,
                headers={"Content-Type": "application/json"},
                timeout=10,
            )
            found.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.text
    return found


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


def test_stalled_connections_hold_no_thread(server: LiveService) -> None:
    before = latencies(server.base_url, CALLS)
    opened = stall(server.base_url, STALLED)
    try:
        time.sleep(0.5)
        during = latencies(server.base_url, CALLS)
        for sock in opened:  # still open: the server has not given up on them yet
            sock.setblocking(False)
            with pytest.raises(BlockingIOError):
                sock.recv(1)
            sock.setblocking(True)
    finally:
        for sock in opened:
            sock.close()
    print(
        f"\n{STALLED} stalled connections: normal calls p50 {statistics.median(before):.2f} -> "
        f"{statistics.median(during):.2f} ms, p99 {p99(before):.2f} -> {p99(during):.2f} ms"
    )
    assert statistics.median(during) < max(20.0, 3 * statistics.median(before))
    assert p99(during) < max(100.0, 5 * p99(before))


def test_the_deadlines_close_stalled_connections(server: LiveService) -> None:
    opened = stall(server.base_url, 40)
    started = time.monotonic()
    try:
        answers = [read_answer(sock, started) for sock in opened]
    finally:
        for sock in opened:
            sock.close()
    assert {a.status for a in answers} == {408}
    assert all(DEADLINE_S - 1 < a.seconds < DEADLINE_S + 3 for a in answers)


def test_a_graceful_stop_is_not_held_up_by_stalled_clients(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    service = start(tmp_path_factory.mktemp("slow-stop"))
    opened = stall(service.base_url, 40)
    try:
        time.sleep(0.5)
        started = time.monotonic()
        assert service.stop() == 0
        took = time.monotonic() - started
        print(f"\nstopped in {took:.2f} s with 40 stalled clients")
        assert took < 3
        answers = [read_answer(sock) for sock in opened]
        assert {a.status for a in answers[0::2]} == {503}  # a body was coming: say so
        assert {a.status for a in answers[1::2]} == {None}  # only a part of a head: closed
    finally:
        for sock in opened:
            sock.close()
