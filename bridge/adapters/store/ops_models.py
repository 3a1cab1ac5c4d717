"""Tables of the running system: leases that make singleton work single-flight, and the watcher's cursor.

Several ``bridge worker`` processes may run at once. Work that must happen once at a time (a sync run, the
console watcher of one realm) takes a named lease; work that is split (lock and grant jobs) is claimed row by
row instead. The console watcher's position in Keycloak's admin events lives here too, so a restart neither
loses an event nor judges one twice.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from bridge.adapters.store.models import Base


class Lease(Base):
    """A named, time-limited right to do singleton work (``sync``, ``console-watcher:bhxh``)."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    #: The worker holding it (host:pid:random), or None when released.
    holder: Mapped[str | None] = mapped_column(String(80))
    #: The lease ends at this time unless renewed; after it, anyone may take it.
    until: Mapped[dt.datetime | None]
    acquired_at: Mapped[dt.datetime | None]


class ConsoleCursor(Base):
    """How far the console watcher has judged a realm's admin events."""

    __tablename__ = "console_cursors"

    realm: Mapped[str] = mapped_column(String(80), primary_key=True)
    #: Keycloak's event time (ms since the epoch) of the newest event judged (the end of the window).
    event_time: Mapped[int] = mapped_column(BigInteger)
    #: ``[id, time]`` of the events judged in the grace window before ``event_time``: events sharing a
    #: millisecond, or committed after a later one, are told apart by id (bridge.services.console_cursor).
    seen_ids: Mapped[list[Any]] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime]
