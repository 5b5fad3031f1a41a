"""A real, throw-away PostgreSQL server on loopback for the store tests.

Uses Debian's server binaries (installed by `.ci/install-postgres.sh`, which `make test`
runs). As root (CI), the cluster is made and run by the `postgres` user, as initdb
demands; otherwise by the current user. Data lives in a temporary directory that is
removed on `stop()`.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parents[2]
INSTALL = REPO / ".ci" / "install-postgres.sh"


class PostgresError(RuntimeError):
    """PostgreSQL could not be installed or started."""


@dataclass
class PostgresServer:
    bin_dir: Path
    root: Path
    port: int
    as_user: str | None

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def new_database(self) -> str:
        """A fresh, empty database; returns its SQLAlchemy URL."""
        name = "b12cds_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        _run(
            self,
            [
                str(self.bin_dir / "pg_ctl"),
                "-D",
                str(self.root / "data"),
                "-m",
                "immediate",
                "stop",
            ],
            check=False,
        )
        shutil.rmtree(self.root, ignore_errors=True)


def start_postgres() -> PostgresServer:
    install = subprocess.run(["bash", str(INSTALL)], capture_output=True, text=True, timeout=900)
    if install.returncode != 0:
        raise PostgresError(f"install-postgres.sh failed:\n{install.stderr[-2000:]}")
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise PostgresError("no /usr/lib/postgresql/*/bin/initdb after install")
    bin_dir = Path(found[-1]).parent
    as_user = "postgres" if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="b12cds-pg-"))
    if as_user:
        shutil.chown(root, user=as_user)
    server = PostgresServer(bin_dir, root, _free_port(), as_user)
    data = root / "data"
    _run(
        server,
        [
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
            "-E",
            "UTF8",
        ],
    )
    options = f"-p {server.port} -k {root} -c listen_addresses=127.0.0.1 -c max_connections=200"
    result = _run(
        server,
        [
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(root / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        ],
        check=False,
    )
    if result.returncode != 0:
        log = (
            (root / "server.log").read_text(errors="replace")
            if (root / "server.log").exists()
            else ""
        )
        server.stop()
        raise PostgresError(f"pg_ctl start failed: {result.stderr[-1000:]}\n{log[-2000:]}")
    return server


def _run(
    server: PostgresServer, argv: list[str], check: bool = True
) -> subprocess.CompletedProcess[str]:
    if server.as_user:
        argv = ["runuser", "-u", server.as_user, "--", *argv]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=server.root)
    if check and result.returncode != 0:
        raise PostgresError(
            f"{Path(argv[-3] if server.as_user else argv[0]).name} failed: {result.stderr[-2000:]}"
        )
    return result


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
