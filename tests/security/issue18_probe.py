"""Issue 18 probe (not a test): the issue's hostile inputs against a server built from a tree.

    python -m tests.security.issue18_probe /path/to/checkout   # e.g. a worktree of main

prints one line per item, so the same command shows the before (a checkout of main) and
the after (this one). The server is started from that tree's own code; the helpers here
(hostile FHIR server, raw HTTP, JWT kit) come from this tree. Loopback only, bounded.
"""

from __future__ import annotations

import json
import socket
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests

from tests.security.hostile_fhir import HostileFhir
from tests.security.jwt_kit import ISSUER, SigningKey, claims, sign, write_trust_file
from tests.support.hook_calls import hook_request
from tests.support.live import LiveService, start_service
from tests.support.raw_http import exchange, request_head

HOOK = "/cds-services/b12-patient-view"


def start(tree: str, *args: str, env: dict[str, str]) -> LiveService:
    entry = (
        f"import sys; sys.path.insert(0, {tree!r}); from cds_service.edge.cli import main; "
        "sys.exit(main(sys.argv[1:]))"
    )
    return start_service([sys.executable, "-c", entry, "serve", "--port", "0", *args], env)


def fallback(base: str) -> dict[str, object]:
    body = hook_request(with_prefetch=False)
    body["fhirServer"] = base
    body["fhirAuthorization"] = {
        "access_token": "probe-token",
        "token_type": "Bearer",
        "scope": "patient/*.read",
        "subject": "probe",
    }
    return body


def audience(tree: str, tmp: Path, out: dict[str, object]) -> None:
    key = SigningKey.generate()
    trust = write_trust_file(tmp / "c.json", {ISSUER: {"jwks": {"keys": [key.public_jwk()]}}})
    env = {"B12CDS_TRUSTED_CLIENTS": str(trust), "B12CDS_DATABASE_URL": f"sqlite:///{tmp}/j.db"}
    server = start(tree, "--workers", "2", env=env)
    try:
        token = sign(key, claims("http://other-cds.example" + HOOK))
        headers = {"Authorization": f"Bearer {token}", "Host": "other-cds.example"}
        answer = requests.post(
            server.base_url + HOOK, json=hook_request(), headers=headers, timeout=10
        )
        out["1 token for other-cds.example, Host: other-cds.example"] = answer.status_code
        here = server.base_url.split("//")[1]
        token = sign(key, claims(f"https://{here}{HOOK}"))
        headers = {"Authorization": f"Bearer {token}", "X-Forwarded-Proto": "https"}
        answer = requests.post(
            server.base_url + HOOK, json=hook_request(), headers=headers, timeout=10
        )
        out["1 token for https://, X-Forwarded-Proto from loopback"] = answer.status_code
        out["should: demo off, GET /demo/markdown"] = requests.get(
            server.base_url + "/demo/markdown", timeout=10
        ).status_code
    finally:
        server.stop()


def open_server(tree: str, tmp: Path, out: dict[str, object]) -> None:
    env = {
        "B12CDS_DATABASE_URL": f"sqlite:///{tmp}/o.db",
        "B12CDS_FHIR_TIMEOUT": "2",
        "B12CDS_MAX_BODY_BYTES": "200000",
    }
    server = start(tree, "--no-auth", "--workers", "2", env=env)
    body = json.dumps(hook_request()).encode()
    plain = {"Content-Type": "application/json"}
    try:
        port = int(server.base_url.rsplit(":", 1)[1])
        stalled = []
        for _ in range(16):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(b"POST " + HOOK.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Le")
            stalled.append(sock)
        time.sleep(0.3)
        ok = timed_out = 0
        for _ in range(20):
            try:
                answer = requests.post(server.base_url + HOOK, data=body, headers=plain, timeout=5)
                ok += answer.status_code == 200
            except requests.Timeout:
                timed_out += 1
        for sock in stalled:
            sock.close()
        out["2 16 stalled heads: normal calls answered / timed out (5 s)"] = f"{ok}/{timed_out}"

        fhir = HostileFhir().start()
        try:
            took: list[float] = []

            def slow_call() -> None:
                started = time.perf_counter()
                requests.post(server.base_url + HOOK, json=fallback(fhir.base("slow")), timeout=30)
                took.append(time.perf_counter() - started)

            threads = [threading.Thread(target=slow_call) for _ in range(12)]
            for thread in threads:
                thread.start()
            time.sleep(0.3)
            latencies = []
            for _ in range(10):
                started = time.perf_counter()
                requests.post(server.base_url + HOOK, data=body, headers=plain, timeout=30)
                latencies.append((time.perf_counter() - started) * 1000)
            for thread in threads:
                thread.join()
            out["3 prefetch-only calls during 12 calls to a stalled FHIR server, max ms"] = round(
                max(latencies)
            )
            out["3 longest of those 12 calls, budget 2 s (s)"] = round(max(took), 2)
            before = len(fhir.seen)
            requests.post(server.base_url + HOOK, json=fallback(fhir.base("link-0")), timeout=30)
            out["4 next link .../fhir/../../escaped: the token reached /escaped"] = any(
                "/escaped" in seen.target and seen.authorization for seen in fhir.seen[before:]
            )
        finally:
            fhir.stop()

        def chunked(data: bytes) -> bytes:
            head = request_head(
                "POST", HOOK, "Content-Type: application/json", "Transfer-Encoding: chunked"
            )
            return head + data

        token_head = request_head(
            "POST",
            HOOK,
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
            "Authorization: Bearer " + "a" * 8400,
            "Connection: close",
        )
        over = b"".join(b"9c40\r\n" + b" " * 40_000 + b"\r\n" for _ in range(6)) + b"0\r\n\r\n"
        cases = [
            ("5 bad chunk size", chunked(b"zz\r\n{}\r\n0\r\n\r\n"), False),
            ("5 missing terminator", chunked(b"2\r\n{}\r\n"), True),
            ("5 junk chunk extension", chunked(b"2;\x01\r\n{}\r\n0\r\n\r\n"), False),
            (
                "should: Content-Length + Transfer-Encoding",
                request_head("POST", HOOK, "Content-Length: 5", "Transfer-Encoding: chunked")
                + b"0\r\n\r\n",
                False,
            ),
            ("should: NUL in a header", request_head("GET", "/healthz", "X-A: a\x00b"), False),
            ("should: 8.4 KB bearer token (no auth)", token_head + body, False),
            ("should: 17 KB URL", request_head("GET", "/" + "a" * 17_000), False),
            ("should: chunked body over the limit", chunked(over), False),
        ]
        for name, data, half_close in cases:
            answer = exchange(server.base_url, data, half_close=half_close)
            kind = "OperationOutcome" if b'"OperationOutcome"' in answer.body[:40] else "other body"
            nosniff = "x-content-type-options" in answer.headers
            out[name] = f"{answer.status} {kind if answer.status != 200 else ''} nosniff={nosniff}"
        feedback = {
            "feedback": [
                {
                    "card": str(uuid.uuid4()),
                    "outcome": "accepted",
                    "acceptedSuggestions": [],
                    "outcomeTimestamp": "0001-01-01T00:00:00+14:00",
                }
            ]
        }
        answer = requests.post(server.base_url + HOOK + "/feedback", json=feedback, timeout=10)
        out["5 feedback outcomeTimestamp 0001-01-01T00:00:00+14:00"] = answer.status_code
    finally:
        server.stop()


def main(tree: str) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="issue18-probe-"))
    out: dict[str, object] = {}
    audience(tree, tmp, out)
    open_server(tree, tmp, out)
    for name, value in out.items():
        print(f"{name}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else str(Path(__file__).resolve().parents[2])))
