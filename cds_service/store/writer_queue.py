"""One SQLite writer at a time, across the threads and worker processes of a service.

SQLite lets one transaction write at a time, and a connection that finds the database
locked waits by sleeping and retrying (1, 2, 5, 10, 15... ms). Under concurrent hook
calls that sleeping, not the writes, set the pace. Writers queue here instead: a thread
lock inside a process and an `flock` on a file beside the database across processes,
both of which hand over to the next writer the moment the last one is done.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class WriterQueue:
    def __init__(self, database_path: str) -> None:
        self.path = database_path + ".writers"
        self._threads = threading.RLock()  # a nested transaction in one thread must not hang
        self._depth = 0  # turns held by the thread that holds the lock
        self._fd: int | None = None
        self._pid = 0

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Hold the only write turn (blocks until it is free); re-entrant in one thread."""
        with self._threads:
            outermost = self._depth == 0
            if outermost:
                fcntl.flock(self._file(), fcntl.LOCK_EX)  # the GIL is released while waiting
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if outermost:
                    fcntl.flock(self._file(), fcntl.LOCK_UN)

    def _file(self) -> int:
        # A forked worker must not share its parent's open file: flock is per open file.
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = os.getpid()
        return self._fd
