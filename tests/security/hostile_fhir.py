"""Tests only: a hostile FHIR server on 127.0.0.1 that records exactly what reached it.

Each behaviour lives under its own base `http://127.0.0.1:PORT/<mode>/fhir`:

- `slow`: holds every request for `SLOW_S` seconds (or until the server stops), then an
  empty Bundle;
- `wide`: searches answer the real data for that type (from `data`) followed by tiny
  padding entries up to `WIDE_BYTES` a page (just under the service's 5 MB default: tens
  of thousands of entries), each page with a `next` link, forever;
- `link-N`: a search's first page names `LINKS[N]` as its `next` link (dot segments,
  escaped dots, encoded slashes, other hosts, ...); any later page is an empty Bundle.

Every request is recorded with its request target exactly as received (the raw request
line, before any normalisation here) and its Authorization header, so a test can say
where the FHIR token went. Requests to any other path (e.g. `/escaped/...`) are answered
with an empty Bundle and recorded too: a link that escaped would be seen.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

SLOW_S = 30.0
WIDE_BYTES = 4_800_000
# {base}: this mode's base URL; {port}: this server's port
LINKS = [
    "{base}/../../escaped/Condition?p=2",  # the reported one: dots after the base
    "../../escaped/Condition?p=2",  # relative
    "{base}/%2e%2e/%2e%2e/escaped/Condition?p=2",  # escaped dots
    "{base}/%2E%2E/.%2e/escaped/Condition?p=2",
    "{base}/Condition/..%2f..%2f..%2fescaped?p=2",  # encoded slashes
    "{base}/Condition/..%5c..%5c..%5cescaped?p=2",  # encoded backslashes
    "//127.0.0.1:{port}/escaped/Condition?p=2",  # scheme-relative
    "http://localhost:{port}{path}/Condition?p=2",  # another host name
    "http://127.0.0.1:1{path}/Condition?p=2",  # another port
    "{base}x/Condition?p=2",  # a longer base that starts with this one
    "http://user@127.0.0.1:{port}{path}/Condition?p=2",  # credentials
    # the same server, spelt differently: followed, to the normalised URL
    "{base}/./Condition?p=2",
    "HTTP://127.0.0.1:{port}{path}/Condition?p=3",
    "{base}/Condition/../Condition?p=4",
    "{base}/%43ondition?p=5",  # an escaped unreserved character
]
FOLLOWED = {11: "Condition?p=2", 12: "Condition?p=3", 13: "Condition?p=4", 14: "Condition?p=5"}


@dataclass(frozen=True)
class Seen:
    target: str  # the request target as received
    authorization: str | None


@dataclass
class HostileFhir:
    data: list[dict[str, Any]] = field(default_factory=list)  # real resources for `wide`
    seen: list[Seen] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _padding: dict[str, bytes] = field(default_factory=dict)

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    def base(self, mode: str) -> str:
        return f"http://127.0.0.1:{self.port}/{mode}/fhir"

    def link(self, index: int) -> str:
        mode = f"link-{index}"
        return LINKS[index].format(base=self.base(mode), port=self.port, path=f"/{mode}/fhir")

    def seen_since(self, count: int) -> list[Seen]:
        return self.seen[count:]

    def start(self) -> HostileFhir:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                owner.seen.append(Seen(self.path, self.headers.get("Authorization")))
                parts = urlsplit(self.path)
                segments = parts.path.strip("/").split("/")
                mode = segments[0]
                kind = segments[2] if len(segments) > 2 and segments[1] == "fhir" else ""
                if mode == "slow":
                    owner._stop.wait(SLOW_S)
                    self._bundle([], None)
                elif mode == "wide" and kind:
                    self._wide(kind)
                elif mode.startswith("link-") and kind and "p=" not in parts.query:
                    self._bundle([], owner.link(int(mode.removeprefix("link-"))))
                else:
                    self._bundle([], None)

            def _wide(self, kind: str) -> None:
                real = [r for r in owner.data if r.get("resourceType") == kind]
                head = json.dumps(
                    {
                        "resourceType": "Bundle",
                        "type": "searchset",
                        "link": [{"relation": "next", "url": f"{owner.base('wide')}/{kind}?p=n"}],
                        "entry": [{"resource": r} for r in real],
                    }
                ).encode()
                padding = owner._padding.get(kind)
                if padding is None:
                    one = json.dumps(
                        {"resource": {"resourceType": kind, "id": "p"}}, separators=(",", ":")
                    ).encode()
                    count = (WIDE_BYTES - len(head)) // (len(one) + 1)
                    padding = owner._padding[kind] = b"," + b",".join([one] * count)
                body = head[:-2] + (padding if real else padding[1:]) + b"]}"
                self._send(body)

            def _bundle(self, entries: list[dict[str, Any]], next_url: str | None) -> None:
                bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
                if next_url:
                    bundle["link"] = [{"relation": "next", "url": next_url}]
                bundle["entry"] = [{"resource": r} for r in entries]
                self._send(json.dumps(bundle).encode())

            def _send(self, body: bytes) -> None:
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/fhir+json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the service hung up (a deadline or a size cap): expected here

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
