"""The event-loop front: a request is read whole before an application thread is given it.

The Flask app is synchronous and each worker runs it on a few threads. A thread that
reads a request from the socket itself is held by a slow client for as long as the
client likes (16 stalled connections once froze the service). So the worker is
gunicorn's asyncio worker (`edge/worker.py`) and this ASGI callable sits in front of the
app: the event loop receives the body, bounded in size (`B12CDS_MAX_BODY_BYTES`, 413 as
soon as a declared length or the chunks received pass it, nothing more is read) and in
time (`B12CDS_BODY_TIMEOUT` for the whole body, else 408), and only a complete request
goes to one of the `APP_THREADS_PER_WORKER` threads. A stalled connection costs a few
kilobytes of loop state, not a thread.

The WSGI environ is built as gunicorn's own WSGI workers build it; the body is a
`BytesIO` of known length (`CONTENT_LENGTH` set, `Transfer-Encoding` dropped: it was
already decoded), and the answer is collected in the thread and written by the loop.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import unquote_to_bytes

from cds_service.edge.headers import error_headers, outcome_body

log = logging.getLogger("cds_service.http")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
# request headers that are not passed on as HTTP_*: the body is already decoded
_FRAMING = frozenset({b"content-length", b"transfer-encoding", b"content-type"})
Answer = tuple[int, list[tuple[bytes, bytes]], bytes]


class BufferedWsgi:
    """ASGI app: read the whole request in the loop, then run `app` on a thread."""

    def __init__(
        self,
        app: WsgiApp,
        *,
        threads: int,
        max_body_bytes: int,
        header_timeout: float,
        body_timeout: float,
    ) -> None:
        self.app = app
        self.threads = threads
        self.max_body_bytes = max_body_bytes
        self.header_timeout = header_timeout  # read by the worker's protocol
        self.body_timeout = body_timeout
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._pool_pid: int | None = None

    def pool(self) -> ThreadPoolExecutor:
        """The application threads of this process (made after the fork, on first use)."""
        with self._lock:
            if self._pool is None or self._pool_pid != os.getpid():
                self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="app")
                self._pool_pid = os.getpid()
            return self._pool

    def shutdown(self) -> None:
        with self._lock:
            if self._pool is not None and self._pool_pid == os.getpid():
                self._pool.shutdown(wait=True)
            self._pool = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return  # no websockets here: gunicorn closes the connection
        length = _declared_length(scope["headers"])
        if length is not None and length > self.max_body_bytes:
            await _answer(send, 413, self._too_large(f"request body of {length} bytes"))
            return
        body = await self._body(receive, send)
        if body is None:
            return
        environ = _environ(scope, body)
        loop = asyncio.get_running_loop()
        status, headers, content = await loop.run_in_executor(self.pool(), self._run, environ)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await asyncio.get_running_loop().run_in_executor(None, self.shutdown)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _body(self, receive: Receive, send: Send) -> bytes | None:
        """The whole body, or None once a 413 or 408 was sent (or the client left)."""
        # one growing buffer, not a list of chunks joined at the end: a body is held
        # once while it arrives, not twice at the join (N=2000 bodies are 1.4 MB)
        buffer = io.BytesIO()
        size = 0
        deadline = time.monotonic() + self.body_timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    raise TimeoutError
                message = await asyncio.wait_for(receive(), remaining)
            except TimeoutError:
                log.warning("body_timeout", extra={"received_bytes": size})
                await _answer(
                    send,
                    408,
                    f"the request body was not received within {self.body_timeout:g} s "
                    "(B12CDS_BODY_TIMEOUT)",
                )
                return None
            if message["type"] != "http.request":
                return None  # http.disconnect: nobody to answer
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > self.max_body_bytes:
                    await _answer(send, 413, self._too_large("the request body"))
                    return None
                buffer.write(chunk)
            if not message.get("more_body", False):
                # getvalue() trims the buffer to size and hands it over without a copy
                return buffer.getvalue()

    def _too_large(self, what: str) -> str:
        return (
            f"{what} exceeds the limit of {self.max_body_bytes} bytes "
            "(B12CDS_MAX_BODY_BYTES); it was not read"
        )

    def _run(self, environ: dict[str, Any]) -> Answer:
        """Call the WSGI app on this (application) thread and collect its answer."""
        started: list[Any] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            if exc_info is not None and started:
                raise exc_info[1].with_traceback(exc_info[2])
            started[:] = [status, headers]
            return written.append

        written: list[bytes] = []
        try:
            result = self.app(environ, start_response)
            try:
                written.extend(chunk for chunk in result if chunk)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except Exception as exc:  # the app answers its own errors; this is a last resort
            log.error("front_unhandled_exception", extra={"error_type": type(exc).__name__})
            body = outcome_body(500, "internal error")
            return 500, error_headers(len(body)), body
        status, headers = started
        raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        return int(status[:3]), raw, b"".join(written)


async def _answer(send: Send, status: int, diagnostics: str) -> None:
    """An OperationOutcome from the front itself; the connection closes after it."""
    body = outcome_body(status, diagnostics)
    await send(
        {"type": "http.response.start", "status": status, "headers": error_headers(len(body))}
    )
    await send({"type": "http.response.body", "body": body})


def _declared_length(headers: Iterable[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            return int(value) if value.isdigit() else None  # the parser checked it
    return None


def _environ(scope: Scope, body: bytes) -> dict[str, Any]:
    server = scope.get("server") or ("localhost", 80)
    client = scope.get("client") or ("", 0)
    raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": scope.get("root_path", ""),
        "PATH_INFO": unquote_to_bytes(raw_path).decode("latin-1"),
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "RAW_URI": raw_path.decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "REMOTE_ADDR": str(client[0]),
        "REMOTE_PORT": str(client[1]),
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.input_terminated": True,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for name, value in scope["headers"]:
        if name in _FRAMING:
            if name == b"content-type":
                environ["CONTENT_TYPE"] = value.decode("latin-1")
            continue
        key = "HTTP_" + name.decode("latin-1").upper().replace("-", "_")
        text = value.decode("latin-1")
        environ[key] = f"{environ[key]},{text}" if key in environ else text
    return environ
