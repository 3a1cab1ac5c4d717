"""Holds: the one shared notion of "a lock is in force on this person today" (Công văn 907).

The lock lifecycle (a later issue) writes holds; the sync only reads them: a held person is never re-enabled
and, if enabled, is disabled. The planner takes a plain set of mails, so any source satisfying
:class:`HoldSource` can feed it.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bridge.adapters.directory.lookup import normalise_email
from bridge.adapters.store.sync_models import PersonHold


class HoldSource(Protocol):
    """Who is under a lock on a given day."""

    def held_on(self, day: dt.date) -> frozenset[str]:
        """Mails (NFC, lower-case) of people under a lock in force on ``day``."""
        ...


class StoreHolds:
    """Holds read from the ``person_holds`` table."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def held_on(self, day: dt.date) -> frozenset[str]:
        """Mails of people under a lock in force on ``day``."""
        rows = self._session.scalars(
            select(PersonHold.email).where(
                PersonHold.effective_from <= day,
                or_(PersonHold.effective_to.is_(None), PersonHold.effective_to >= day),
            )
        )
        return frozenset(normalise_email(r) for r in rows)


def add_hold(
    session: Session,
    *,
    email: str,
    reason: str,
    effective_from: dt.date,
    effective_to: dt.date | None = None,
    source: str,
) -> PersonHold:
    """Record a hold (used by the lock lifecycle and by tests)."""
    hold = PersonHold(
        email=normalise_email(email),
        reason=reason,
        effective_from=effective_from,
        effective_to=effective_to,
        source=source,
        created_at=dt.datetime.now(dt.UTC),
    )
    session.add(hold)
    session.flush()
    return hold
