"""gunicorn's asyncio worker, with a header deadline and OperationOutcome answers of its own.

gunicorn's ASGI worker (`worker_class = "asgi"`) parses HTTP/1.1 in the event loop and
hands `edge.front.BufferedWsgi` a parsed request; this subclass adds what the service
needs on top:

- a deadline for the request head (`B12CDS_HEADER_TIMEOUT`): a connection that has not
  sent complete headers by then gets a 408 and is closed (gunicorn's keep-alive timer
  bounds later requests on the same connection);
- the answers gunicorn gives by itself (a malformed request line or header, a NUL byte,
  Content-Length with Transfer-Encoding, a bad chunk size or extension, an over-long
  URL or header) as an OperationOutcome with the service's security headers, instead
  of a bare text page;
- at a graceful stop, connections still waiting for a request head are closed at once,
  and those still sending a body get a 503 and are closed (nothing of theirs reached the
  app), so a SIGTERM is not held up by idle or stalled clients; requests already with the
  app finish.

It relies on gunicorn's protocol internals (`_on_headers_complete`, `_send_error_response`),
hence the pin to one gunicorn major version in `pyproject.toml`; the tests in
`tests/security/test_slow_clients.py` and `test_framing.py` fail if they change.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from gunicorn.asgi import protocol as gunicorn_protocol
from gunicorn.workers import gasgi

from cds_service.edge.headers import error_headers, outcome_body

_PHRASES = {
    400: "Bad Request",
    408: "Request Timeout",
    413: "Payload Too Large",
    414: "URI Too Long",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
}
_DIAGNOSTICS = {
    400: "malformed HTTP request",
    414: "the request line is too long",
    431: "a request header is too long, or there are too many",
    501: "unsupported transfer coding",
}


class Protocol(gunicorn_protocol.ASGIProtocol):  # type: ignore[misc]  # gunicorn ships no types
    def __init__(self, worker: Any) -> None:
        super().__init__(worker)
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_seen = False

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self.worker.protocols.add(self)
        timeout = getattr(self.app, "header_timeout", None)
        if timeout:
            self._head_timer = self.worker.loop.call_later(timeout, self._head_timeout)

    def _on_headers_complete(self) -> Any:
        self._head_seen = True
        self._cancel_head_timer()
        return super()._on_headers_complete()

    def _head_timeout(self) -> None:
        self._head_timer = None
        if self._head_seen or self._closed:
            return
        self._send_error_response(
            408,
            f"the request headers were not received within {self.app.header_timeout:g} s "
            "(B12CDS_HEADER_TIMEOUT)",
        )
        self.close_idle()

    def close_idle(self) -> bool:
        """Close the connection if it is waiting for a request head; True if it was."""
        if self._closed or not self._awaiting_request:
            return False
        self._close_transport()
        if self._request_ready is not None:
            self._request_ready.set()  # let the connection loop see it is closed
        return True

    def refuse_unread_body(self) -> None:
        """At a stop: a request whose body is still arriving never reached the app; 503."""
        receiver = self._body_receiver
        if self._closed or receiver is None or receiver._complete:
            return
        self._send_error_response(
            503, "the service is stopping; send the request again", (("Retry-After", "1"),)
        )
        self._close_transport()

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def eof_received(self) -> bool | None:
        """The client stopped sending. Mid-request, that is a malformed request (a chunked
        body without its terminator, a body shorter than its Content-Length, a cut-off
        head): say so with a 400 before closing, where asyncio would just close."""
        receiver = self._body_receiver
        parser = self._callback_parser
        mid_body = receiver is not None and not receiver._complete
        mid_head = (
            self._awaiting_request
            and parser is not None
            and (
                getattr(parser, "_state", "") == "headers" or bool(getattr(parser, "_buffer", b""))
            )
        )
        if not self._closed and (mid_body or mid_head) and self._websocket is None:
            what = "body" if mid_body else "head"
            self._send_error_response(400, f"the request {what} ended before it was complete")
            self._close_transport()
            return None
        # a complete request is being answered: keep the write side open for the answer
        # (the keep-alive timer closes the connection after it)
        return not self._closed and not self._awaiting_request

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def _send_error_response(self, status: int, message: str, extra_headers: Any = ()) -> None:
        """gunicorn's own answers, as the service's OperationOutcome with its headers.

        `message` can quote the request; it is not echoed (the log has the request id
        of what reached the app; this never did)."""
        own = status in (408, 503) or message.startswith("the request ")
        diagnostics = message if own else _DIAGNOSTICS.get(status, "malformed HTTP request")
        body = outcome_body(status, diagnostics)
        lines = [f"HTTP/1.1 {status} {_PHRASES.get(status, 'Error')}\r\n".encode()]
        headers = [*error_headers(len(body))]
        headers += [(str(k).encode("latin-1"), str(v).encode("latin-1")) for k, v in extra_headers]
        lines += [name + b": " + value + b"\r\n" for name, value in headers]
        self._safe_write(b"".join(lines) + b"\r\n" + body)


class Worker(gasgi.ASGIWorker):  # type: ignore[misc]
    """gunicorn's ASGI worker serving connections with `Protocol`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.protocols: weakref.WeakSet[Protocol] = weakref.WeakSet()

    async def _serve(self) -> None:
        # gasgi builds its protocol by this module-level name; this process serves only
        # this worker, so pointing it at the subclass changes nothing else
        gasgi.ASGIProtocol = Protocol
        await super()._serve()

    async def _shutdown(self) -> None:
        for connection in list(self.protocols):
            if not connection.close_idle():
                connection.refuse_unread_body()
        await super()._shutdown()
