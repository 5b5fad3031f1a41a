"""Malformed HTTP framing against the real server: every answer is an OperationOutcome with
the security headers, never a 500 and never a bare server page, and the limits the README
documents hold (a 16,384-character bearer token fits in a header)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.support.hook_calls import hook_request
from tests.support.live import LiveService, start_b12_cds
from tests.support.raw_http import RawAnswer, exchange, request_head

HOOK = "/cds-services/b12-patient-view"
LIMIT = 200_000
TIMEOUT_S = 2
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
    "x-frame-options": "DENY",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "referrer-policy": "no-referrer",
}
BODY = json.dumps(hook_request()).encode()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    db = Path(tmp_path_factory.mktemp("framing")) / "b12cds.sqlite3"
    service = start_b12_cds(
        "--no-auth",
        "--workers",
        "2",
        env={
            "B12CDS_DATABASE_URL": f"sqlite:///{db}",
            "B12CDS_MAX_BODY_BYTES": str(LIMIT),
            "B12CDS_HEADER_TIMEOUT": str(TIMEOUT_S),
            "B12CDS_BODY_TIMEOUT": str(TIMEOUT_S),
        },
    )
    yield service
    assert requests.get(service.base_url + "/healthz", timeout=10).status_code == 200
    assert '"unhandled_exception"' not in service.log_text()
    assert service.stop() == 0


def assert_outcome(answer: RawAnswer, status: int) -> str:
    assert answer.status == status, (answer.status, answer.body[:300])
    for name, value in SECURITY_HEADERS.items():
        assert answer.headers.get(name) == value, (name, answer.headers)
    outcome = answer.json()
    assert outcome["resourceType"] == "OperationOutcome"
    diagnostics: str = outcome["issue"][0]["diagnostics"]
    return diagnostics


def chunked(*chunks: bytes) -> bytes:
    return request_head(
        "POST", HOOK, "Content-Type: application/json", "Transfer-Encoding: chunked"
    ) + b"".join(chunks)


CASES = {
    "bad chunk size": (chunked(b"zz\r\n{}\r\n0\r\n\r\n"), False, 400),
    "negative chunk size": (chunked(b"-5\r\n{}\r\n0\r\n\r\n"), False, 400),
    "junk chunk extension": (chunked(b"2;\x01\x02junk\r\n{}\r\n0\r\n\r\n"), False, 400),
    "chunk longer than its size": (chunked(b"2\r\n{}}\r\n0\r\n\r\n"), False, 400),
    "missing terminator": (chunked(b"2\r\n{}\r\n"), True, 400),
    "missing last CRLF": (chunked(b"2\r\n{}\r\n0\r\n"), True, 400),
    "body shorter than Content-Length": (
        request_head("POST", HOOK, "Content-Length: 100") + b"{}",
        True,
        400,
    ),
    "Content-Length with Transfer-Encoding": (
        request_head("POST", HOOK, "Content-Length: 5", "Transfer-Encoding: chunked")
        + b"0\r\n\r\n",
        False,
        400,
    ),
    "two Content-Lengths": (
        request_head("POST", HOOK, "Content-Length: 2", "Content-Length: 3") + b"{}",
        False,
        400,
    ),
    "NUL in a header": (request_head("GET", "/healthz", "X-Test: a\x00b"), False, 400),
    "NUL in the path": (request_head("GET", "/health\x00z"), False, 400),
    "no colon in a header": (request_head("GET", "/healthz", "Broken header"), False, 400),
    "URL over 16 KB": (request_head("GET", "/" + "a" * 17_000), False, 414),
    "header over 20 KB": (request_head("GET", "/healthz", "X-Big: " + "a" * 21_000), False, 431),
    "too many headers": (
        request_head("GET", "/healthz", *(f"X-H{i}: v" for i in range(80))),
        False,
        431,
    ),
    "chunked body over the limit": (
        chunked(b"".join(f"{40_000:x}\r\n".encode() + b" " * 40_000 + b"\r\n" for _ in range(6))),
        False,
        413,
    ),
    "declared body over the limit": (
        request_head("POST", HOOK, f"Content-Length: {LIMIT + 1}") + b"{",
        False,
        413,
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_malformed_framing_is_a_4xx_outcome(server: LiveService, case: str) -> None:
    data, half_close, status = CASES[case]
    assert_outcome(exchange(server.base_url, data, half_close=half_close), status)


def test_the_documented_token_size_fits(server: LiveService) -> None:
    """README: a client JWT of up to 16,384 characters; it must reach the app."""
    head = request_head(
        "POST",
        HOOK,
        "Content-Type: application/json",
        f"Content-Length: {len(BODY)}",
        "Authorization: Bearer " + "a" * 16_384,
        "Connection: close",
    )
    answer = exchange(server.base_url, head + BODY)
    assert answer.status == 200, answer.body[:300]


def test_a_well_formed_chunked_body_is_read(server: LiveService) -> None:
    middle = len(BODY) // 2
    data = chunked(
        f"{middle:x}\r\n".encode() + BODY[:middle] + b"\r\n",
        f"{len(BODY) - middle:x};ext=1\r\n".encode() + BODY[middle:] + b"\r\n",
        b"0\r\n\r\n",
    )
    answer = exchange(server.base_url, data)
    assert answer.status == 200, answer.body[:300]
    assert "cards" in answer.json()


def test_a_chunked_body_over_the_limit_is_not_parsed(server: LiveService) -> None:
    """Cut at the limit it would be a 400 'unexpected end of data'; it is a 413."""
    big = json.dumps({**hook_request(), "padding": "x" * LIMIT}).encode()
    data = chunked(f"{len(big):x}\r\n".encode() + big + b"\r\n0\r\n\r\n")
    diagnostics = assert_outcome(exchange(server.base_url, data), 413)
    assert "B12CDS_MAX_BODY_BYTES" in diagnostics


def test_a_stalled_head_is_a_408_after_the_header_timeout(server: LiveService) -> None:
    answer = exchange(server.base_url, b"POST " + HOOK.encode() + b" HTTP/1.1\r\nHost: x\r\n")
    assert "B12CDS_HEADER_TIMEOUT" in assert_outcome(answer, 408)
    assert TIMEOUT_S - 0.5 < answer.seconds < TIMEOUT_S + 2


def test_a_stalled_body_is_a_408_after_the_body_timeout(server: LiveService) -> None:
    head = request_head("POST", HOOK, "Content-Type: application/json", "Content-Length: 1000")
    answer = exchange(server.base_url, head + b'{"hook": ')
    assert "B12CDS_BODY_TIMEOUT" in assert_outcome(answer, 408)
    assert TIMEOUT_S - 0.5 < answer.seconds < TIMEOUT_S + 2
