"""Grants reach Keycloak: the worker side of ``grant_jobs`` (docs/decisions/0403).

A grant or revocation writes a membership job in its own transaction (``bridge.services.grants``); this module
works those jobs on the same job queue as the lock scheduler's (:mod:`bridge.services.job_queue`: a lease
written in one short transaction, Keycloak calls outside any transaction, a conditional finish) and makes
Keycloak match the store: the person is a member of ``/apps/<application>/<role group>`` while an active
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

from sqlalchemy import and_, exists, select
from sqlalchemy.orm import Session, aliased, sessionmaker

from bridge.adapters.store.job_columns import PENDING
from bridge.adapters.store.models import Grant, GrantJob
from bridge.adapters.store.session import SQLITE_BEGIN, transaction
from bridge.domain.catalogue import parse_role_group_path
from bridge.errors import BridgeError, TransientError
from bridge.services import exception_accounts, role_valve
from bridge.services.grants import ACCOUNT, LEAVE
from bridge.services.job_queue import JobOutcome, JobQueue
from bridge.services.locks.keycloak_actions import KeycloakLocks
from bridge.settings import SyncSettings

Clock = Callable[[], dt.datetime]


@dataclass(frozen=True)
class RoleValve:
    """The limits mass role-group removals are judged by, and who releases them."""

    limits: SyncSettings
    it_center_unit: str


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
    parsed = parse_role_group_path(path)
    if parsed is None:  # no grant names a group outside /apps/<application>/<role group>
        return False
    application, role_group = parsed
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
        valve: RoleValve | None = None,
    ) -> None:
        self.factory, self.locks, self.clock, self.worker_id = factory, locks, clock, worker_id
        self.batch = batch
        #: Mass removals of a unit's role groups wait for a two-person release (issue 15 part 2); None: never.
        self.valve = valve
        #: The ``grant_jobs`` table on the one job queue: claim, finish, release with back-off.
        self.queue = JobQueue(
            GrantJob, factory=factory, clock=lambda: self.clock(), worker_id=worker_id, lease=lease,
            retry_base_s=retry_base_s, retry_cap_s=retry_cap_s,
        )  # fmt: skip
        self._lookups: dict[str, asyncio.Lock] = {}

    async def _user_id(self, email: str) -> str | None:
        """The person's Keycloak id, one lookup per person at a time: two concurrent first-sight lookups make
        Keycloak import the person from the directory twice, and the loser answers "no such user"."""
        async with self._lookups.setdefault(email, asyncio.Lock()):
            return await self.locks.find_user_id(email)

    def claim(self, limit: int | None = None) -> list[ClaimedMembership]:
        """Claim pending jobs nobody holds whose person and role group have no earlier pending job."""
        earlier = aliased(GrantJob)
        first = ~exists().where(earlier.email == GrantJob.email, earlier.path == GrantJob.path,
                                earlier.state == PENDING, earlier.id < GrantJob.id)  # fmt: skip

        def load(session: Session, ids: list[int]) -> list[ClaimedMembership]:
            jobs = session.scalars(select(GrantJob).where(GrantJob.id.in_(ids)).order_by(GrantJob.id))
            return [ClaimedMembership(j.id, j.grant_id, j.kind, j.email, j.path) for j in jobs]

        where = [first]
        held = self.held_units()
        if held:  # their removals wait for the release; everything else proceeds
            in_held = select(Grant.id).where(Grant.unit_code.in_(sorted(held)))
            where.append(~and_(GrantJob.kind == LEAVE, GrantJob.grant_id.in_(in_held)))
        return self.queue.claim(load, limit=limit or self.batch, where=where)

    def held_units(self) -> frozenset[str]:
        """Units whose pending role-group removals the valve holds (none without a valve)."""
        if self.valve is None:
            return frozenset()
        # judged on a read (SQLite: no write lock each second); a transaction only to file a release request
        reader = self.factory(bind=self.factory.kw["bind"].execution_options(**{SQLITE_BEGIN: "DEFERRED"}))
        with reader as session, session.begin():
            if not role_valve.judge(session, limits=self.valve.limits).held_units:
                return frozenset()
        with transaction(self.factory) as session:
            return role_valve.held_units(session, limits=self.valve.limits, it_center_unit=self.valve.it_center_unit)

    def _wanted(self, job: ClaimedMembership) -> bool:
        with self.factory() as session:
            return wanted(session, email=job.email, path=job.path)

    async def work(self, job: ClaimedMembership) -> JobOutcome:
        """Make Keycloak's membership match the store, then record it (or release the claim on failure)."""
        facts: exception_accounts.AccountFacts | None = None
        try:
            member = await asyncio.to_thread(self._wanted, job)
            if job.kind == ACCOUNT:
                facts = await asyncio.to_thread(self._account, job)
            if facts is not None:  # an approved exception account: create it first, then as any join
                user_id: str | None = await exception_accounts.ensure_account(self.locks, facts)
                assert user_id is not None
                await self.locks.set_membership(user_id, job.path, member=member)
                if not facts.email_sent:
                    await exception_accounts.send_password_email(self.locks, user_id)
                result = "created"
                recorded = await asyncio.to_thread(self._record, job, result, facts, user_id)
                return JobOutcome(job.job_id, None, job.kind, result if recorded else "lost", grant_id=job.grant_id)
            user_id = await self._user_id(job.email)
            if user_id is None:
                if member:
                    raise TransientError(f"{job.email}: no Keycloak account to join {job.path}", delay=30)
                result = "absent"
            else:
                await self.locks.set_membership(user_id, job.path, member=member)
                result = "kept" if member and job.kind == LEAVE else ("joined" if member else "left")
        except BridgeError as exc:
            await asyncio.to_thread(self.queue.release, job.job_id, exc)
            return JobOutcome(job.job_id, None, job.kind, "failed", exc.message[:300], grant_id=job.grant_id)
        recorded = await asyncio.to_thread(self._record, job, result)
        return JobOutcome(job.job_id, None, job.kind, result if recorded else "lost", grant_id=job.grant_id)

    def _account(self, job: ClaimedMembership) -> exception_accounts.AccountFacts | None:
        with self.factory() as session:
            return exception_accounts.account_facts(session, grant_id=job.grant_id)

    def _record(
        self, job: ClaimedMembership, result: str, facts: exception_accounts.AccountFacts | None = None,
        user_id: str | None = None,
    ) -> bool:  # fmt: skip
        with transaction(self.factory) as session:
            now = self.clock()
            if not self.queue.finish(session, job_id=job.job_id, now=now, result=result):
                return False
            grant = session.get(Grant, job.grant_id)
            if facts is not None and user_id is not None:
                exception_accounts.record_created(session, facts=facts, user_id=user_id, now=now, path=job.path)
            if grant is not None and result in ("joined", "created") and grant.applied_at is None:
                grant.applied_at = now
            elif grant is not None and result in ("left", "absent") and grant.revoked_at is not None:
                grant.removed_at = now
            return True
