"""Raw HTTP/1.1 over a socket, for requests no HTTP library would send (broken framing,
stalled heads and bodies), and a reader for the one answer that comes back."""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class RawAnswer:
    status: int | None  # None: the connection closed without an answer
    headers: dict[str, str]  # lower-case names
    body: bytes
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body)


def address(base_url: str) -> tuple[str, int]:
    parts = urlsplit(base_url)
    return parts.hostname or "127.0.0.1", parts.port or 80


def connect(base_url: str, timeout: float = 15.0) -> socket.socket:
    return socket.create_connection(address(base_url), timeout=timeout)


def exchange(
    base_url: str, data: bytes, *, half_close: bool = False, timeout: float = 15.0
) -> RawAnswer:
    """Send `data` on a new connection (then shut the write side if asked) and read one answer."""
    with connect(base_url, timeout) as sock:
        started = time.monotonic()
        try:
            sock.sendall(data)
        except OSError:
            pass  # the server may refuse before taking it all (a 413): read its answer
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        return read_answer(sock, started)


def read_answer(sock: socket.socket, started: float | None = None) -> RawAnswer:
    started = time.monotonic() if started is None else started
    buffer = b""
    try:
        while b"\r\n\r\n" not in buffer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            buffer += chunk
    except (TimeoutError, OSError):
        pass
    head, _, rest = buffer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not lines[0].startswith("HTTP/1."):
        return RawAnswer(None, {}, buffer, time.monotonic() - started)
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    try:
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
    except (TimeoutError, OSError):
        pass
    return RawAnswer(status, headers, rest[:length], time.monotonic() - started)


def request_head(method: str, path: str, *headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
