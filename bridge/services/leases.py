"""Named leases: singleton work (a sync run, a realm's console watcher) runs in one worker at a time.

A lease is taken by writing this worker's name and an end time onto its row, only where nobody holds it or the
holder's time ran out; the holder renews it while it works and releases it when done. A worker that dies
simply stops renewing, and another takes over once the lease ends. The one conditional UPDATE is atomic on
SQLite and PostgreSQL alike, so two workers never both believe they hold it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import socket
import uuid
from collections.abc import AsyncIterator

from sqlalchemy import or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from bridge.adapters.store.ops_models import Lease
from bridge.adapters.store.session import transaction


def worker_name() -> str:
    """A name for this process that no other worker shares: host, pid and a random part."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _ensure_row(session: Session, name: str) -> None:
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(Lease).values(name=name, holder=None, until=None).on_conflict_do_nothing())


def acquire(factory: sessionmaker[Session], *, name: str, holder: str, seconds: float, now: dt.datetime) -> bool:
    """Take (or renew) the lease ``name`` for ``seconds``; False when another live holder has it."""
    with transaction(factory) as session:
        _ensure_row(session, name)
        taken = session.execute(
            update(Lease)
            .where(Lease.name == name, or_(Lease.holder.is_(None), Lease.holder == holder, Lease.until < now))
            .values(holder=holder, until=now + dt.timedelta(seconds=seconds), acquired_at=now)
        )
        return bool(getattr(taken, "rowcount", 0))


def release(factory: sessionmaker[Session], *, name: str, holder: str) -> None:
    """Give the lease back at once (only if this holder still has it)."""
    with transaction(factory) as session:
        session.execute(update(Lease).where(Lease.name == name, Lease.holder == holder).values(holder=None, until=None))


@contextlib.asynccontextmanager
async def holding(factory: sessionmaker[Session], *, name: str, holder: str, seconds: float) -> AsyncIterator[bool]:
    """Hold the lease ``name`` for the block, renewing it every third of ``seconds``; yields False (and holds
    nothing) when another worker has it. Released at the end, even when the block is cancelled."""

    def now() -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    if not await asyncio.to_thread(acquire, factory, name=name, holder=holder, seconds=seconds, now=now()):
        yield False
        return

    async def renew() -> None:
        while True:
            await asyncio.sleep(seconds / 3)
            await asyncio.to_thread(acquire, factory, name=name, holder=holder, seconds=seconds, now=now())

    renewal = asyncio.create_task(renew())
    try:
        yield True
    finally:
        renewal.cancel()
        await asyncio.to_thread(release, factory, name=name, holder=holder)
