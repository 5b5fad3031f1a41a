"""Opening the database: one `Store` per process tree, safe across gunicorn's fork.

SQLite (the embedded default) runs in WAL mode with `synchronous=FULL`, a busy timeout
and `BEGIN IMMEDIATE` transactions, so several worker processes write without
"database is locked" errors and a commit is on disk before the answer goes out.
PostgreSQL is reached through psycopg 3 (`postgresql+psycopg://`; a bare
`postgresql://` URL is read the same way).

Two lighter kinds of transaction serve the hook-call path, where every millisecond is
the clinician's: `reading()` (SQLite: a deferred BEGIN, so a read never queues behind
a writer) and `ledgering()` for the issued-card ledger, committed before the answer goes
out (feedback from any worker finds the card at once) but not flushed to disk first
(SQLite `synchronous=NORMAL` in WAL, PostgreSQL `synchronous_commit = off`): it
survives a killed process, and only an OS crash or power cut can lose its last moments.
Feedback, secrets and replay marks keep the fully durable `transaction()`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from cds_service.store.writer_queue import WriterQueue

SQLITE_BUSY_MS = 30_000


# What a store call raises when the database cannot be reached or written: any database
# error (driver errors come out as SQLAlchemy's, see `Store._driver`), and an OSError of
# the SQLite writer queue's lock file. Callers that must fail open catch exactly these.
UNAVAILABLE: tuple[type[Exception], ...] = (SQLAlchemyError, OSError)


class StoreError(RuntimeError):
    """The database cannot be opened or migrated; the message names the URL's back end."""


class Store:
    """The engine and sessions for one database URL.

    Build it before forking; each process gets its own connection pool on first use
    (inherited pooled connections are dropped, never shared with the parent).
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine = _create(url)
        # SQLite: a second pool whose connections never fsync on commit (see `ledgering`)
        self._light = _create(url, synchronous="NORMAL") if self.backend == "sqlite" else None
        self._writers = _writer_queue(url)
        self._pid = os.getpid()
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        self._secret: bytes | None = None

    @property
    def engine(self) -> Engine:
        if self._pid != os.getpid():
            self._engine.dispose(close=False)  # the parent's connections stay the parent's
            if self._light is not None:
                self._light.dispose(close=False)
            self._pid = os.getpid()
        return self._engine

    @property
    def _light_engine(self) -> Engine:
        engine = self.engine  # re-pools both after a fork
        return self._light if self._light is not None else engine

    @property
    def backend(self) -> str:
        return self._engine.dialect.name

    @property
    def secret(self) -> bytes:
        """The installation's HMAC key for patient and encounter keys (see `keys.py`)."""
        if self._secret is None:
            from cds_service.store.keys import load_or_create_secret

            self._secret = load_or_create_secret(self)
        return self._secret

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any error."""
        self.engine  # noqa: B018  # re-pool after a fork before the session connects
        with self._turn(), self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[Driver]:
        """A read-only transaction that takes no write lock (WAL readers never wait)."""
        with self._driver("BEGIN") as driver:
            yield driver

    @contextmanager
    def ledgering(self) -> Iterator[Driver]:
        """A write committed (visible to all) before returning, but not flushed to disk."""
        with self._turn(), self._driver("BEGIN IMMEDIATE") as driver:
            if self.backend == "postgresql":
                driver.execute("SET LOCAL synchronous_commit TO OFF")
            yield driver

    @contextmanager
    def _driver(self, sqlite_begin: str) -> Iterator[Driver]:
        """One transaction on a pooled DB-API connection of the light engine.

        The hook path runs a few fixed statements per call, and SQLAlchemy's Connection
        and statement handling cost several times what SQLite takes to run them. Driver
        errors come out as SQLAlchemy's own (`DBAPIError`), as from any other store call.
        """
        engine = self._light_engine
        dialect = engine.dialect
        base_error = dialect.loaded_dbapi.Error
        try:
            connection = engine.raw_connection()  # a failed connect raises the driver's error
        except base_error as exc:
            raise DBAPIError.instance(None, None, exc, base_error, dialect=dialect) from exc
        try:
            cursor = connection.cursor()
            if self.backend == "sqlite":
                cursor.execute(sqlite_begin)  # the connection runs in autocommit mode
            yield Driver(cursor, dialect)
            connection.commit()
        except base_error as exc:
            connection.invalidate()  # broken or mid-transaction: never back to the pool
            raise DBAPIError.instance(None, None, exc, base_error, dialect=dialect) from exc
        except BaseException:
            try:
                connection.rollback()
            except base_error:
                connection.invalidate()
            raise
        finally:
            connection.close()

    def _turn(self) -> AbstractContextManager[None]:
        """SQLite file: wait for the write turn (see `writer_queue`); else nothing to wait for."""
        return self._writers.turn() if self._writers is not None else nullcontext()

    def dispose(self) -> None:
        self._engine.dispose()
        if self._light is not None:
            self._light.dispose()


class Driver:
    """A DB-API cursor inside one transaction; SQL is written in `dialect.paramstyle`."""

    def __init__(self, cursor: Any, dialect: Dialect) -> None:
        self.dialect = dialect
        self._cursor = cursor

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._cursor.execute(sql, params)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self._cursor.execute(sql, params)
        return list(self._cursor.fetchall())

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._cursor.executemany(sql, rows)


def open_store(url: str, *, migrate: bool = True) -> Store:
    """Open `url` and (by default) bring its schema up to date."""
    try:
        _make_sqlite_folder(url)
        store = Store(url)
        if migrate:
            from cds_service.store.migrate import upgrade

            upgrade(store.engine)
            store.secret  # noqa: B018  # made once at start-up, before workers fork
    except (SQLAlchemyError, ArgumentError, OSError) as exc:
        raise StoreError(f"database {_describe(url)}: {type(exc).__name__}: {exc}") from exc
    return store


def _make_sqlite_folder(url: str) -> None:
    """A SQLite file's folder (the data directory on a first start) is made if missing."""
    parsed = make_url(url)
    path = parsed.database
    if parsed.get_backend_name() == "sqlite" and path and path != ":memory:":
        if not path.startswith("file:"):
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)


def _writer_queue(url: str) -> WriterQueue | None:
    """A SQLite database in a file gets a writer queue; memory and PostgreSQL need none."""
    parsed = make_url(url)
    path = parsed.database
    if parsed.get_backend_name() != "sqlite" or not path or path == ":memory:":
        return None
    if path.startswith("file:"):
        return None  # URI filenames: not worth parsing for a queue
    return WriterQueue(os.path.abspath(path))


def _describe(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparsable URL)"


def _create(url: str, *, synchronous: str = "FULL") -> Engine:
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_MS / 1000})
        _tune_sqlite(engine, synchronous)
        return engine
    return create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=5)


def _tune_sqlite(engine: Engine, synchronous: str) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        # take the write lock up front: a deferred read-then-write transaction can
        # fail with SQLITE_BUSY at once instead of waiting its turn (the hook path's
        # reads issue their own deferred BEGIN, see `_driver`)
        connection.exec_driver_sql("BEGIN IMMEDIATE")
