"""Tests only: a deliberately faulty FHIR server on 127.0.0.1 (Python http.server in a thread).

Each fault lives under its own base, `base(mode)` = `http://127.0.0.1:PORT/<mode>/fhir`, so one
server covers every fault and tests pick one by the fhirServer they send:

- `ok`: answers like a FHIR server from `resources` (search -> a searchset Bundle of that type,
  read -> the resource or 404); `patient-404`: the same, but the Patient read is a 404;
- `401`, `403`, `404`, `500`: that status with an OperationOutcome, for every request;
- `redirect`: a 302 to the `ok` base (a redirect must not be followed: it would carry the token);
- `stall`: accepts the request and never answers (until the server stops);
- `drip`: 200 with a valid JSON body sent one byte every 50 ms (about 100 s in all);
- `garbage`: 200 with an HTML body; `wrong-type`: 200 with a `Basic` resource for everything;
- `endless-next`: the real data on page 1, then empty pages, each with a `next` link, forever;
- `other-host-next`: the real data with a `next` link to another host (`localhost`).

Every request is recorded (mode, path with query, Host header, Authorization header).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

DRIP_INTERVAL_S = 0.05
STALL_LIMIT_S = 120.0


@dataclass(frozen=True)
class Seen:
    mode: str
    path: str  # after the base, with the query
    host: str
    authorization: str | None


@dataclass
class FaultServer:
    resources: list[dict[str, Any]] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    drip_abandoned: list[float] = field(default_factory=list)  # monotonic: client hung up
    _server: ThreadingHTTPServer | None = None
    _release: threading.Event = field(default_factory=threading.Event)

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    def base(self, mode: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}/{mode}/fhir"

    def requests_for(self, mode: str) -> list[Seen]:
        return [s for s in self.seen if s.mode == mode]

    def start(self) -> FaultServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                segments = parts.path.strip("/").split("/")
                if len(segments) < 2 or segments[1] != "fhir":
                    self._json(404, _outcome("no FHIR base here"))
                    return
                mode, rest = segments[0], segments[2:]
                owner.seen.append(
                    Seen(
                        mode,
                        "/".join(rest) + (f"?{parts.query}" if parts.query else ""),
                        self.headers.get("Host", ""),
                        self.headers.get("Authorization"),
                    )
                )
                owner._answer(self, mode, rest, parse_qs(parts.query))

            def _json(self, status: int, body: Any, extra: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (extra or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = _QuietServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True, name="fault-fhir").start()
        return self

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # --- behaviour ------------------------------------------------------------------------

    def _answer(self, h: Any, mode: str, rest: list[str], query: dict[str, list[str]]) -> None:
        if mode in ("401", "403", "404", "500"):
            h._json(int(mode), _outcome(f"HTTP {mode} from the fault server"))
        elif mode == "redirect":
            h.send_response(302)
            h.send_header("Location", self.base("ok") + "/" + "/".join(rest))
            h.send_header("Content-Length", "0")
            h.end_headers()
        elif mode == "stall":
            self._release.wait(STALL_LIMIT_S)
        elif mode == "drip":
            self._drip(h, self._result(rest, query, mode))
        elif mode == "garbage":
            data = b"<html><body>Service temporarily unavailable</body></html>"
            h.send_response(200)
            h.send_header("Content-Type", "application/fhir+json")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
        elif mode == "wrong-type":
            h._json(200, {"resourceType": "Basic", "id": "not-what-was-asked"})
        else:
            result = self._result(rest, query, mode)
            h._json(200 if result.get("resourceType") != "OperationOutcome" else 404, result)

    def _result(self, rest: list[str], query: dict[str, list[str]], mode: str) -> dict[str, Any]:
        if len(rest) == 2:  # a read
            found = [
                r for r in self.resources if r["resourceType"] == rest[0] and r["id"] == rest[1]
            ]
            if not found or (mode == "patient-404" and rest[0] == "Patient"):
                return _outcome("not found")
            return found[0]
        page = int(query.get("page", ["1"])[0])
        matches = [r for r in self.resources if rest and r["resourceType"] == rest[0]]
        bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
        if page == 1 and matches:
            bundle["entry"] = [{"resource": r, "search": {"mode": "match"}} for r in matches]
        if mode in ("endless-next", "other-host-next"):
            host = "localhost" if mode == "other-host-next" else "127.0.0.1"
            url = f"{self.base(mode, host)}/{rest[0]}?page={page + 1}"
            bundle["link"] = [{"relation": "next", "url": url}]
        return bundle

    def _drip(self, h: Any, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode().ljust(2000)  # JSON padded with spaces: valid when whole
        h.send_response(200)
        h.send_header("Content-Type", "application/fhir+json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        try:
            for i in range(len(data)):
                if self._release.is_set():
                    return
                h.wfile.write(data[i : i + 1])
                h.wfile.flush()
                time.sleep(DRIP_INTERVAL_S)
        except OSError:  # the client gave up and closed the connection
            self.drip_abandoned.append(time.monotonic())


class _QuietServer(ThreadingHTTPServer):
    """Clients that give up (the service at its deadline) are expected: no traceback.

    A deep accept backlog: with the default of 5, a burst of concurrent connects can lose a
    SYN and wait 1 s for its retransmission, which would look like a slow service.
    """

    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


def _outcome(text: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "processing", "diagnostics": text}],
    }
