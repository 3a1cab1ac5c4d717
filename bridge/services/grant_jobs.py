"""Grants reach Keycloak: the worker side of ``grant_jobs`` (docs/decisions/0403).

A grant or revocation writes a membership job in its own transaction (``bridge.services.grants``); this module
claims those jobs exactly like the lock scheduler claims lock jobs — a lease written in one short transaction
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL), Keycloak calls outside any transaction, a conditional finish — and
makes Keycloak match the store: the person is a member of ``/apps/<application>/<role group>`` while an active
grant of that role group exists, and not otherwise. Reading the wanted state from the store, not from the job's
kind, makes a late or repeated job harmless: a revocation whose person was granted the role group again keeps
the membership. Jobs of one person and role group run in the order they were written (a later one waits while
an earlier one is pending). A locked person still gets the membership: membership is not access, the account is
disabled.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import exists, or_, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from bridge.adapters.store.models import Grant, GrantJob
from bridge.adapters.store.session import transaction
from bridge.errors import BridgeError, TransientError
from bridge.services.grants import LEAVE
from bridge.services.job_queue import JobOutcome, release_failed
from bridge.services.locks.keycloak_actions import KeycloakLocks

Clock = Callable[[], dt.datetime]


@dataclass(frozen=True)
class ClaimedMembership:
    """A membership job this worker holds."""

    job_id: int
    grant_id: int
    kind: str
    email: str
    path: str


def wanted(session: Session, *, email: str, path: str) -> bool:
    """True while ``email`` holds an active grant of the role group at ``path``."""
    _, _, application, role_group = path.split("/", 3)
    query = select(Grant.id).where(
        Grant.email == email, Grant.application == application, Grant.role_group == role_group,
        Grant.revoked_at.is_(None),
    )  # fmt: skip
    return session.execute(query.limit(1)).first() is not None


class MembershipJobs:
    """Claims pending membership jobs and applies them to Keycloak."""

    def __init__(
        self,
        *,
        factory: sessionmaker[Session],
        locks: KeycloakLocks,
        clock: Clock,
        worker_id: str,
        lease: dt.timedelta,
        batch: int = 100,
        retry_base_s: float = 2.0,
        retry_cap_s: float = 300.0,
    ) -> None:
        self.factory, self.locks, self.clock, self.worker_id = factory, locks, clock, worker_id
        self.lease, self.batch = lease, batch
        self.retry_base_s, self.retry_cap_s = retry_base_s, retry_cap_s
        self._lookups: dict[str, asyncio.Lock] = {}

    async def _user_id(self, email: str) -> str | None:
        """The person's Keycloak id, one lookup per person at a time: two concurrent first-sight lookups make
        Keycloak import the person from the directory twice, and the loser answers "no such user"."""
        async with self._lookups.setdefault(email, asyncio.Lock()):
            return await self.locks.find_user_id(email)

    def claim(self, limit: int | None = None) -> list[ClaimedMembership]:
        """Claim pending jobs nobody holds whose person and role group have no earlier pending job."""
        now = self.clock()
        earlier = aliased(GrantJob)
        with transaction(self.factory) as session:
            query = (
                select(GrantJob.id)
                .where(
                    GrantJob.state == "pending",
                    GrantJob.not_before <= now,
                    or_(GrantJob.claimed_until.is_(None), GrantJob.claimed_until < now),
                    ~exists().where(earlier.email == GrantJob.email, earlier.path == GrantJob.path,
                                    earlier.state == "pending", earlier.id < GrantJob.id),
                )
                .order_by(GrantJob.id)
                .limit(limit or self.batch)
            )  # fmt: skip
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True, of=GrantJob)
            ids = list(session.scalars(query))
            if not ids:
                return []
            session.execute(
                update(GrantJob).where(GrantJob.id.in_(ids))
                .values(claimed_by=self.worker_id, claimed_until=now + self.lease)
            )  # fmt: skip
            jobs = session.scalars(select(GrantJob).where(GrantJob.id.in_(ids)).order_by(GrantJob.id))
            return [ClaimedMembership(j.id, j.grant_id, j.kind, j.email, j.path) for j in jobs]

    def _wanted(self, job: ClaimedMembership) -> bool:
        with self.factory() as session:
            return wanted(session, email=job.email, path=job.path)

    async def work(self, job: ClaimedMembership) -> JobOutcome:
        """Make Keycloak's membership match the store, then record it (or release the claim on failure)."""
        try:
            member = await asyncio.to_thread(self._wanted, job)
            user_id = await self._user_id(job.email)
            if user_id is None:
                if member:
                    raise TransientError(f"{job.email}: no Keycloak account to join {job.path}", delay=30)
                result = "absent"
            else:
                await self.locks.set_membership(user_id, job.path, member=member)
                result = "kept" if member and job.kind == LEAVE else ("joined" if member else "left")
        except BridgeError as exc:
            await asyncio.to_thread(self._release, job, exc)
            return JobOutcome(job.job_id, None, job.kind, "failed", exc.message[:300], grant_id=job.grant_id)
        recorded = await asyncio.to_thread(self._record, job, result)
        return JobOutcome(job.job_id, None, job.kind, result if recorded else "lost", grant_id=job.grant_id)

    def _record(self, job: ClaimedMembership, result: str) -> bool:
        with transaction(self.factory) as session:
            now = self.clock()
            done = session.execute(
                update(GrantJob)
                .where(GrantJob.id == job.job_id, GrantJob.claimed_by == self.worker_id, GrantJob.state == "pending")
                .values(state="done", done_at=now, claimed_until=None, last_error=None, result=result)
            )  # fmt: skip
            if getattr(done, "rowcount", 0) != 1:
                return False
            grant = session.get(Grant, job.grant_id)
            if grant is not None and result == "joined" and grant.applied_at is None:
                grant.applied_at = now
            elif grant is not None and result in ("left", "absent") and grant.revoked_at is not None:
                grant.removed_at = now
            return True

    def _release(self, job: ClaimedMembership, exc: BridgeError) -> None:
        with transaction(self.factory) as session:
            release_failed(
                session, GrantJob, job_id=job.job_id, worker_id=self.worker_id, exc=exc, now=self.clock(),
                retry_base_s=self.retry_base_s, retry_cap_s=self.retry_cap_s,
            )  # fmt: skip
