"""Engines and sessions of the store, built from ``get_settings().store.url`` on first use.

SQLite runs writing transactions as ``BEGIN IMMEDIATE`` in WAL mode: the ledger appends a row after reading the
chain's tail, and a deferred SQLite transaction that read a stale snapshot cannot upgrade to a writer; taking the
write lock up front makes the tail read and the append one serialised step. Read-only work (GET requests) asks
for ``BEGIN DEFERRED`` and takes no lock (docs/decisions/0101, 0105). PostgreSQL keeps READ COMMITTED; the ledger
serialises appends with a transaction-scoped advisory lock instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from bridge.settings import get_settings

#: At least as many connections as the API's worker threads (40): a thread waiting for a connection while the
#: holders wait for a thread to finish their request would deadlock until the pool timeout.
POOL: dict[str, Any] = {"pool_size": 20, "max_overflow": 30}

#: Execution option choosing how a SQLite transaction begins; read-only work asks for ``DEFERRED``.
SQLITE_BEGIN = "sqlite_begin"


def _sqlite_hooks(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # the driver must not BEGIN on its own; we do below
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get(SQLITE_BEGIN, "IMMEDIATE")
        conn.exec_driver_sql(f"BEGIN {'DEFERRED' if mode == 'DEFERRED' else 'IMMEDIATE'}")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """A new engine for ``url``; a SQLite file's directory is created if missing."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False}, **{**POOL, **kwargs})
        _sqlite_hooks(engine)
        return engine
    if parsed.drivername == "postgresql":
        url = str(parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False))
    return create_engine(url, **{"pool_pre_ping": True, **POOL, **kwargs})


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    """The process-wide engine of ``url`` (one pool per URL)."""
    return make_engine(url)


def session_factory(url: str | None = None) -> sessionmaker[Session]:
    """Sessions on ``url``, or on the configured store."""
    return sessionmaker(engine_for(url or get_settings().store.url), expire_on_commit=False)


def page_factory(factory: sessionmaker[Session]) -> sessionmaker[Session]:
    """Read-only sessions on ``factory``'s database, for list pages read on the API's event loop
    (docs/decisions/0107).

    A pool of their own that never makes a caller wait: two connections are kept, and one beyond them is opened
    for the moment and closed after. On PostgreSQL a page makes only its own queries: autocommit (no BEGIN and
    COMMIT round trips; each query sees committed rows) and no liveness ping before each use — a connection that
    died with the server fails one page and SQLAlchemy then replaces the whole pool.
    """
    url = factory.kw["bind"].url.render_as_string(hide_password=False)
    if make_url(url).get_backend_name() == "sqlite":
        engine = make_engine(url, pool_size=2, max_overflow=-1)
        return sessionmaker(engine.execution_options(**{SQLITE_BEGIN: "DEFERRED"}), expire_on_commit=False)
    engine = make_engine(url, pool_size=2, max_overflow=-1, pool_pre_ping=False, isolation_level="AUTOCOMMIT")
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session
