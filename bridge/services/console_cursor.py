"""Where the console watcher stands in Keycloak's admin events: a cursor in the store that loses nothing.

Keycloak stamps an admin event with the time its request ended and commits it a moment later, so two requests
can become visible out of time order, and several events share a millisecond. A single "newest time seen"
would skip the late one. The cursor is therefore a window: the newest event time judged, and the id and time of
every event judged in the ``grace_ms`` before it. A read starts at ``event_time - grace_ms``; an event in that
window whose id is not listed (committed late, or sharing a millisecond with a judged one) is still new; an
event older than the window was judged before.

The watcher writes the cursor in the transaction that writes the event's ledger rows, after locking the row
(PostgreSQL ``FOR UPDATE``; SQLite's ``BEGIN IMMEDIATE`` serialises writers anyway) and checking that nobody
moved it since this watcher last read it. An event is thus recorded once, whatever stops the process, and two
watchers that both believed they held the lease never both record it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from bridge.adapters.store.ops_models import ConsoleCursor
from bridge.adapters.store.session import transaction

#: How late (ms) an event may become visible after a later one and still be judged.
GRACE_MS = 5_000


@dataclass
class Cursor:
    """The watcher's position in one realm's admin events (plain data; the store row is its copy)."""

    realm: str
    #: Time (ms since the epoch, Keycloak's clock) of the newest event judged.
    event_time: int
    #: Id → time of the events judged within ``grace_ms`` before ``event_time``.
    seen: dict[str, int] = field(default_factory=dict)
    grace_ms: int = GRACE_MS

    @property
    def read_from(self) -> int:
        """The ``dateFrom`` of the next read: the start of the window."""
        return self.event_time - self.grace_ms

    def is_new(self, event_id: str, time_ms: int) -> bool:
        """True for an event not judged yet: inside the window (or after it) and not listed."""
        return time_ms >= self.read_from and event_id not in self.seen

    def advance(self, event_id: str, time_ms: int) -> None:
        """Record one more judged (or skipped) event, and drop ids that fell out of the window."""
        self.seen[event_id] = time_ms
        if time_ms > self.event_time:
            self.event_time = time_ms
            floor = self.read_from
            self.seen = {key: at for key, at in self.seen.items() if at >= floor}

    def state(self) -> tuple[int, list[list[str | int]]]:
        """What the store holds: the time and the ``[id, time]`` pairs of the window, in a stable order."""
        return self.event_time, sorted([key, at] for key, at in self.seen.items())

    def copy(self) -> Cursor:
        """An independent copy (the watcher keeps the last state it wrote, to detect another writer)."""
        return Cursor(self.realm, self.event_time, dict(self.seen), self.grace_ms)


def _from_row(row: ConsoleCursor, grace_ms: int) -> Cursor:
    return Cursor(row.realm, int(row.event_time), {str(k): int(t) for k, t in row.seen_ids}, grace_ms)


def open_cursor(factory: sessionmaker[Session], *, realm: str, start_ms: int, grace_ms: int = GRACE_MS) -> Cursor:
    """The realm's cursor; a realm watched for the first time starts at ``start_ms``: earlier events are history
    (its window ends ``grace_ms`` after the start, so the window begins at the start)."""
    with transaction(factory) as session:
        row = session.get(ConsoleCursor, realm)
        if row is None:
            row = ConsoleCursor(
                realm=realm, event_time=start_ms + grace_ms, seen_ids=[], updated_at=dt.datetime.now(dt.UTC)
            )
            session.add(row)
        return _from_row(row, grace_ms)


def lock_cursor(session: Session, *, realm: str, grace_ms: int = GRACE_MS) -> Cursor | None:
    """The stored cursor, locked for this transaction (None when the row is missing)."""
    row = session.get(ConsoleCursor, realm, with_for_update=True, populate_existing=True)
    return None if row is None else _from_row(row, grace_ms)


def save_cursor(session: Session, cursor: Cursor) -> None:
    """Write ``cursor`` in the session's transaction."""
    event_time, pairs = cursor.state()
    row = session.get(ConsoleCursor, cursor.realm)
    if row is None:
        session.add(
            ConsoleCursor(realm=cursor.realm, event_time=event_time, seen_ids=pairs, updated_at=dt.datetime.now(dt.UTC))
        )
        return
    row.event_time, row.seen_ids, row.updated_at = event_time, pairs, dt.datetime.now(dt.UTC)
