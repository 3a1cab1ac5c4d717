"""A private PostgreSQL cluster for tests and benchmarks (Debian ``postgresql`` 15), started and stopped by
us.

Production runs the store on PostgreSQL with two roles: an owner that runs migrations and an application
role that cannot UPDATE or DELETE audit-ledger rows. The test bed builds exactly that: a fresh cluster in a
temporary directory (``initdb`` refuses root, so the cluster belongs to the ``postgres`` system user),
listening on 127.0.0.1 and a free port, with random passwords that live only in memory. ``stop()`` removes
everything.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import psycopg
from psycopg import sql

from bridge.errors import SetupError
from bridge.testbed.ports import free_port

PG_BIN_CANDIDATES = (Path("/usr/lib/postgresql/15/bin"), Path("/usr/lib/postgresql/16/bin"))
OWNER_ROLE = "bridge_owner"
APP_ROLE = "bridge_app"


def _pg_bin() -> Path:
    for candidate in PG_BIN_CANDIDATES:
        if (candidate / "initdb").exists():
            return candidate
    raise SetupError("PostgreSQL server binaries not found: install the Debian package 'postgresql'")


@dataclass
class PostgresServer:
    """One running cluster; use as a context manager or call :meth:`start` / :meth:`stop`."""

    port: int = 0
    system_user: str = "postgres"
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bridge-pg-")))
    owner_password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    app_password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    _started: bool = False
    _options: str = ""

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "run"

    def _as_system_user(self, *args: str) -> None:
        prefix = ["runuser", "-u", self.system_user, "--"] if os.geteuid() == 0 else []
        result = subprocess.run([*prefix, *args], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise SetupError(f"{Path(args[0]).name} failed: {result.stderr.strip() or result.stdout.strip()}")

    def start(self) -> PostgresServer:
        """initdb, start on 127.0.0.1:<port>, create the owner and application roles."""
        bin_dir = _pg_bin()
        self.port = self.port or free_port()
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, self.system_user, self.system_user)
            shutil.chown(self.socket_dir, self.system_user, self.system_user)
        self._as_system_user(
            str(bin_dir / "initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
        )
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.socket_dir} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._options = options
        self._pg_ctl("start")
        self._started = True
        with self.superuser_connection() as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN CREATEDB PASSWORD {}").format(
                    sql.Identifier(OWNER_ROLE), sql.Literal(self.owner_password)
                )
            )
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(APP_ROLE), sql.Literal(self.app_password)
                )
            )
        self.create_database("bridge")
        return self

    def _pg_ctl(self, command: str) -> None:
        self._as_system_user(
            str(_pg_bin() / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.root / "server.log"),
            "-o", self._options, "-m", "fast", "-w", "-t", "60", command,
        )  # fmt: skip

    def restart(self, *, down_s: float = 0.0) -> None:
        """Restart the cluster (fast: open connections are cut) on the same port and data, staying down
        ``down_s`` seconds in between: a database restart as the bridge sees it."""
        if not down_s:
            self._pg_ctl("restart")
            return
        self._pg_ctl("stop")
        time.sleep(down_s)
        self._pg_ctl("start")

    def superuser_connection(self, dbname: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
        """A connection as the cluster's superuser over the private Unix socket (tests' tamper tools)."""
        return psycopg.connect(
            host=str(self.socket_dir), port=self.port, user="postgres", dbname=dbname, autocommit=True
        )

    def create_database(self, name: str) -> None:
        """A new empty database owned by the owner role, usable (not alterable) by the application role."""
        with self.superuser_connection() as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(OWNER_ROLE))
            )
        with self.superuser_connection(name) as conn:
            conn.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(OWNER_ROLE)))
            conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(sql.Identifier(APP_ROLE)))

    def drop_database(self, name: str) -> None:
        """Drop a database created by :meth:`create_database`."""
        with self.superuser_connection() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def owner_url(self, dbname: str = "bridge") -> str:
        """SQLAlchemy URL of the owner role (migrations)."""
        return f"postgresql+psycopg://{OWNER_ROLE}:{self.owner_password}@127.0.0.1:{self.port}/{dbname}"

    def app_url(self, dbname: str = "bridge") -> str:
        """SQLAlchemy URL of the application role (the API, the CLI, the sync)."""
        return f"postgresql+psycopg://{APP_ROLE}:{self.app_password}@127.0.0.1:{self.port}/{dbname}"

    def superuser_url(self, dbname: str = "bridge") -> str:
        """SQLAlchemy URL of the superuser over the Unix socket (tests that play a rogue DBA)."""
        return f"postgresql+psycopg://postgres@/{dbname}?host={self.socket_dir}&port={self.port}"

    def stop(self) -> None:
        """Stop the cluster (fast shutdown) and delete its files."""
        if self._started:
            self._as_system_user(str(_pg_bin() / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop")
            self._started = False
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
