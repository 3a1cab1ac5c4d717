"""The one job queue: how a worker claims, finishes and gives back jobs, for lock jobs and grant membership jobs.

Both tables carry the same claim columns (``bridge.adapters.store.job_columns``); this module is the only code that
claims, finishes or releases a job (writing a new job, or cancelling one, stays with its service). A worker *claims*
due jobs by writing its name and a lease onto them in one short transaction (PostgreSQL:
``SELECT … FOR UPDATE SKIP LOCKED``; SQLite: the store's ``BEGIN IMMEDIATE`` serialises writers), does the work
outside any transaction, then *finishes* a job with a conditional update that only succeeds while the job is still
pending and still its own, so a job whose lease ran out and was claimed again is recorded once. A failed job is
*released* with a back-off. What a job is due for (its day, its order behind other jobs) and what finishing it
writes besides belong to the job's user: the lock scheduler (``bridge.services.locks.scheduler``) and the membership
worker (``bridge.services.grant_jobs``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from bridge.adapters.store.job_columns import DONE, PENDING, JobColumns
from bridge.adapters.store.session import transaction
from bridge.errors import BridgeError, TransientError

Job = TypeVar("Job", bound=JobColumns)
Claimed = TypeVar("Claimed")


@dataclass(frozen=True)
class JobOutcome:
    """One attempt at one job.

    Lock jobs (``apply``, ``reinstate``) name their decision and end ``applied``, ``skipped`` (nothing to do),
    ``failed`` (retried) or ``lost`` (another worker recorded it). Membership jobs (``join``, ``leave``) name
    their grant and end ``joined``, ``left``, ``kept`` (another active grant holds the role group), ``absent``
    (no Keycloak account to leave), ``failed`` or ``lost``.
    """

    job_id: int
    decision_id: int | None
    kind: str
    status: str
    error: str | None = None
    grant_id: int | None = None


def release_failed(
    session: Session,
    table: type[JobColumns],
    *,
    job_id: int,
    worker_id: str,
    exc: BridgeError,
    now: dt.datetime,
    retry_base_s: float,
    retry_cap_s: float,
) -> None:
    """Give a failed job back for a later attempt, if this worker still holds it.

    The wait doubles with each attempt up to ``retry_cap_s``. A permanent refusal (e.g. credentials) is retried
    too, but slowly, from the cap: an operator must look at it.
    """
    attempts = session.scalar(select(table.attempts).where(table.id == job_id)) or 0
    base = retry_base_s if isinstance(exc, TransientError) else retry_cap_s
    delay = min(retry_cap_s, base * 2**attempts)
    session.execute(
        update(table).where(table.id == job_id, table.claimed_by == worker_id)
        .values(attempts=attempts + 1, not_before=now + dt.timedelta(seconds=delay),
                claimed_by=None, claimed_until=None, last_error=f"{exc.code}: {exc.message}"[:500])
    )  # fmt: skip


class JobQueue(Generic[Job]):
    """One table of jobs as one worker sees it: claim, finish, release."""

    def __init__(
        self,
        table: type[Job],
        *,
        factory: sessionmaker[Session],
        clock: Callable[[], dt.datetime],
        worker_id: str,
        lease: dt.timedelta,
        retry_base_s: float,
        retry_cap_s: float,
    ) -> None:
        self.table, self.factory, self.clock, self.worker_id = table, factory, clock, worker_id
        self.lease, self.retry_base_s, self.retry_cap_s = lease, retry_base_s, retry_cap_s

    def claim(
        self,
        load: Callable[[Session, list[int]], list[Claimed]],
        *,
        limit: int,
        where: Sequence[ColumnElement[bool]] = (),
        join: tuple[Any, ColumnElement[bool]] | None = None,
        order_by: Sequence[Any] = (),
    ) -> list[Claimed]:
        """Lease up to ``limit`` pending jobs nobody holds and whose back-off is over, and ``load`` them.

        ``where`` narrows the due jobs (the user's own conditions, on the table or on the ``join``ed one);
        ``order_by`` comes before the job's id, which orders the rest. Claiming, leasing and loading are one
        transaction; ``load`` gets the claimed ids in claim order.
        """
        table, now = self.table, self.clock()
        with transaction(self.factory) as session:
            query = select(table.id)
            if join is not None:
                query = query.join(*join)
            query = (
                query.where(
                    table.state == PENDING,
                    table.not_before <= now,
                    or_(table.claimed_until.is_(None), table.claimed_until < now),
                    *where,
                )
                .order_by(*order_by, table.id)
                .limit(limit)
            )
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True, of=table)
            ids = list(session.scalars(query))
            if not ids:
                return []
            session.execute(
                update(table).where(table.id.in_(ids))
                .values(claimed_by=self.worker_id, claimed_until=now + self.lease)
            )  # fmt: skip
            return load(session, ids)

    def finish(self, session: Session, *, job_id: int, now: dt.datetime, **values: Any) -> bool:
        """Mark the job done at ``now`` (with ``values`` of the user's own columns) in the caller's transaction,
        if it is still pending and still held by this worker. False: another worker finished it after this one's
        lease ran out, and the caller records nothing."""
        table = self.table
        done = session.execute(
            update(table).where(table.id == job_id, table.claimed_by == self.worker_id, table.state == PENDING)
            .values(state=DONE, done_at=now, claimed_until=None, last_error=None, **values)
        )  # fmt: skip
        return bool(getattr(done, "rowcount", 0) == 1)

    def release(self, job_id: int, exc: BridgeError) -> None:
        """Give a failed job back with a back-off (:func:`release_failed`), in a transaction of its own."""
        with transaction(self.factory) as session:
            release_failed(
                session, self.table, job_id=job_id, worker_id=self.worker_id, exc=exc, now=self.clock(),
                retry_base_s=self.retry_base_s, retry_cap_s=self.retry_cap_s,
            )  # fmt: skip
