"""The durable lock scheduler: applies each decision on its Vietnamese calendar day, exactly once.

All state is in the store (``lock_jobs``), so a worker that restarts, or starts late, catches up on whatever is
due. The jobs are worked on the one job queue (:mod:`bridge.services.job_queue`): a worker *claims* due jobs
with a lease in one short transaction, works on Keycloak outside any transaction, then *finishes* a job with a
conditional update that only succeeds while the job is still pending and still its own — the ledger row is
written in that same transaction, so even when a lease ran out and a second worker repeated the (idempotent)
Keycloak calls, the lock is recorded once. Failures release the claim with a back-off; Keycloak being down only
delays the lock. The clock is injected. What a job comes to (the L-rules) is decided by the pure functions of
:mod:`bridge.domain.lock_rules`; this module gathers their facts and carries the verdict out.
The same loop works the grants' membership jobs (``grant_jobs``, :mod:`bridge.services.grant_jobs`), first
in each pass, so a grant reaches Keycloak with the same durability (docs/decisions/0403).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from bridge.adapters.directory.lookup import DirectoryLookup
from bridge.adapters.keycloak.admin import service_account_admin
from bridge.adapters.store import ledger
from bridge.adapters.store.lock_models import LockDecision, LockJob
from bridge.adapters.store.models import Grant
from bridge.adapters.store.session import session_factory, transaction
from bridge.clock import today_vn
from bridge.domain.catalogue import parse_role_group_path, role_group_path
from bridge.domain.lock_reasons import LockReason
from bridge.domain.lock_rules import reinstatement, roles_to_end, roles_to_restore
from bridge.domain.rules import Rule
from bridge.domain.units import load_units
from bridge.errors import BridgeError
from bridge.metrics import LOCK_DECISIONS, LOCK_VERIFY_SECONDS
from bridge.services import exception_accounts
from bridge.services.context import directory_for
from bridge.services.grant_jobs import ClaimedMembership, MembershipJobs, RoleValve
from bridge.services.grants import LEAVE, enqueue_membership
from bridge.services.holds import StoreHolds
from bridge.services.job_queue import JobOutcome, JobQueue
from bridge.services.locks.decisions import APPLY, ledger_detail
from bridge.services.locks.keycloak_actions import KeycloakLocks
from bridge.services.locks.realm_locks import RealmLocks, realm_of_person
from bridge.services.sync import record as applied_record
from bridge.settings import Settings

ACTOR = "system:lock-scheduler"
Clock = Callable[[], dt.datetime]


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Claimed:
    """A job this worker holds, with what acting on it needs."""

    job_id: int
    kind: str
    decision_id: int
    email: str
    reason: LockReason
    user_id: str | None
    role_groups: tuple[str, ...]
    #: Role groups of the person's active grants in the store (a transfer ends them too).
    grant_groups: tuple[str, ...]


class LockScheduler:
    """Claims due lock jobs from the store and applies them to Keycloak."""

    def __init__(
        self,
        *,
        factory: sessionmaker[Session],
        locks: KeycloakLocks,
        directory: DirectoryLookup | None = None,
        clock: Clock = _utc_now,
        worker_id: str | None = None,
        lease_s: float = 120.0,
        batch: int = 100,
        concurrency: int = 16,
        retry_base_s: float = 2.0,
        retry_cap_s: float = 300.0,
        role_valve: RoleValve | None = None,
    ) -> None:
        self.factory = factory
        self.locks = locks
        self.directory = directory
        self.clock = clock
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lease = dt.timedelta(seconds=lease_s)
        self.batch = batch
        self.concurrency = concurrency
        self.retry_base_s, self.retry_cap_s = retry_base_s, retry_cap_s
        #: The ``lock_jobs`` table on the one job queue: claim, finish, release with back-off.
        self.queue = JobQueue(
            LockJob, factory=factory, clock=lambda: self.clock(), worker_id=self.worker_id, lease=self.lease,
            retry_base_s=retry_base_s, retry_cap_s=retry_cap_s,
        )  # fmt: skip
        #: Grants and revocations waiting to reach Keycloak (``grant_jobs``), worked by the same loop.
        self.memberships = MembershipJobs(
            factory=factory, locks=locks, clock=lambda: self.clock(), worker_id=self.worker_id, lease=self.lease,
            batch=batch, retry_base_s=retry_base_s, retry_cap_s=retry_cap_s, valve=role_valve,
        )  # fmt: skip

    def today(self) -> dt.date:
        """The scheduler's day in Asia/Ho_Chi_Minh."""
        return today_vn(self.clock())

    # --- claiming ------------------------------------------------------------------------------------
    def claim(self, limit: int | None = None) -> list[Claimed]:
        """Claim up to ``limit`` (default ``batch``) due jobs nobody holds; a reinstatement only once its lock
        is in force."""
        today = self.today()

        def load(session: Session, ids: list[int]) -> list[Claimed]:
            rows = session.execute(
                select(LockJob, LockDecision).join(LockDecision, LockDecision.id == LockJob.decision_id)
                .where(LockJob.id.in_(ids)).order_by(LockJob.id)
            ).all()  # fmt: skip
            grants: dict[str, list[str]] = {}
            emails = sorted({d.email for _, d in rows})
            for g in session.scalars(select(Grant).where(Grant.email.in_(emails), Grant.revoked_at.is_(None))):
                grants.setdefault(g.email, []).append(role_group_path(g.application, g.role_group))
            return [
                Claimed(job.id, job.kind, d.id, d.email, LockReason(d.reason_code), d.user_id,
                        tuple(d.role_groups or ()), tuple(sorted(grants.get(d.email, []))))
                for job, d in rows
            ]  # fmt: skip

        return self.queue.claim(
            load, limit=limit or self.batch, join=(LockDecision, LockDecision.id == LockJob.decision_id),
            where=[LockJob.due_date <= today, or_(LockJob.kind == APPLY, LockDecision.status == "in_force")],
            order_by=[LockJob.due_date],
        )  # fmt: skip

    # --- one job -------------------------------------------------------------------------------------
    async def _work(self, job: Claimed) -> JobOutcome:
        try:
            if job.kind == APPLY and job.reason is LockReason.TRANSFERRED:
                outcome = await self._transfer(job)
            elif job.kind == APPLY:
                outcome = await self._lock(job)
            else:
                outcome = await self._reinstate(job)
        except BridgeError as exc:
            await asyncio.to_thread(self.queue.release, job.job_id, exc)
            outcome = JobOutcome(job.job_id, job.decision_id, job.kind, "failed", exc.message[:300])
        LOCK_DECISIONS.labels(job.kind, outcome.status).inc()
        return outcome

    async def _record(self, job: Claimed, status: str, write: Callable[[Session, LockDecision], None]) -> JobOutcome:
        """Finish the job if it is still ours and pending, and ``write`` the outcome, in one transaction.

        Runs on a thread: waiting for the store's write lock must not stall the Keycloak calls in flight.
        """

        def body() -> bool:
            with transaction(self.factory) as session:
                finished = self.queue.finish(session, job_id=job.job_id, now=self.clock())
                decision = session.get(LockDecision, job.decision_id)
                if not finished or decision is None:
                    return False  # another worker finished it after our lease ran out: record nothing
                write(session, decision)
                return True

        recorded = await asyncio.to_thread(body)
        return JobOutcome(job.job_id, job.decision_id, job.kind, status if recorded else "lost")

    async def _lock(self, job: Claimed) -> JobOutcome:
        started = self.clock().isoformat()
        user_id = await self.locks.known_user_id(job.email, job.user_id)
        applying = time.monotonic()
        groups, proof = await asyncio.gather(self.locks.role_groups(user_id), self.locks.lock(user_id))
        LOCK_VERIFY_SECONDS.observe(time.monotonic() - applying)  # disabled, logged out, read back

        def write(session: Session, decision: LockDecision) -> None:
            decision.user_id, decision.role_groups = user_id, groups
            decision.proof, decision.applied_at, decision.status = (
                {**proof, "started_at": started},
                self.clock(),
                "in_force",
            )
            applied_record.carry_lock_write(session, user_id=user_id, enabled=False)
            ledger.append(
                session, actor=ACTOR, action="lock", target=f"person:{job.email}", outcome="allowed",
                rule=Rule.L1_EFFECTIVE_DATE,
                detail={**ledger_detail(decision, groups), "requested_by": decision.requested_by,
                        **exception_accounts.ended_detail(decision)},
            )  # fmt: skip
            if job.reason is LockReason.EXCEPTION_ENDED:  # an approved exception account's end date
                exception_accounts.mark_ended(session, decision=decision)

        return await self._record(job, "applied", write)

    async def _transfer(self, job: Claimed) -> JobOutcome:
        user_id = await self.locks.known_user_id(job.email, job.user_id)
        groups = roles_to_end(in_keycloak=await self.locks.role_groups(user_id), granted=job.grant_groups)
        proof = await self.locks.end_role_groups(user_id, groups)

        def write(session: Session, decision: LockDecision) -> None:
            decision.user_id, decision.role_groups, decision.proof = user_id, groups, proof
            decision.applied_at, decision.status = self.clock(), "done"
            applied_record.carry_lock_write(session, user_id=user_id, roles_left=groups)
            active = {role_group_path(g.application, g.role_group): g for g in session.scalars(
                select(Grant).where(Grant.email == job.email, Grant.revoked_at.is_(None)))}  # fmt: skip
            for path in groups:
                application, role_group = parse_role_group_path(path) or ("", "")
                grant = active.get(path)
                if grant is not None:
                    grant.revoked_at, grant.revoked_by = self.clock(), decision.requested_by
                    # already left above; the job records it and repairs a join that raced with the transfer
                    enqueue_membership(session, grant=grant, kind=LEAVE)
                ledger.append(
                    session, actor=ACTOR, action="revoke", target=f"person:{job.email}", outcome="allowed",
                    rule=Rule.L5_TRANSFER_ENDS_ROLES,
                    detail={"grant": grant.id if grant else None, "application": application,
                            "role_group": role_group, "unit": decision.unit_code, "reason": "transferred",
                            "decision_id": decision.id, "decision_number": decision.decision_number,
                            "effective_date": decision.effective_date.isoformat()},
                )  # fmt: skip

        return await self._record(job, "applied", write)

    def _return_facts(self, job: Claimed) -> tuple[bool, bool | None]:
        """On the return day: whether another lock holds the person, and whether the directory lists them as
        active (None: not asked — there is no directory, or a hold decides already)."""
        with self.factory() as session:
            held = job.email in StoreHolds(session).held_on(self.today())
        if held or self.directory is None:
            return held, None
        person = self.directory.find(job.email)
        return held, person is not None and person.active

    def _revoked_since_lock(self, job: Claimed) -> set[str]:
        """Role groups of the person whose grant was revoked after the lock took effect."""
        with self.factory() as session:
            decision = session.get(LockDecision, job.decision_id)
            since = decision.applied_at if decision is not None else None
            if since is None:
                return set()
            revoked = {role_group_path(a, r) for a, r in session.execute(
                select(Grant.application, Grant.role_group).where(Grant.email == job.email,
                                                                  Grant.revoked_at >= since))}  # fmt: skip
        return revoked

    async def _reinstate(self, job: Claimed) -> JobOutcome:
        held, listed = await asyncio.to_thread(self._return_facts, job)
        verdict = reinstatement(still_held=held, in_directory=listed)
        paths = roles_to_restore(
            held_at_lock=job.role_groups, revoked_since_lock=await asyncio.to_thread(self._revoked_since_lock, job),
            granted_now=job.grant_groups,
        )  # fmt: skip
        proof: dict[str, Any] = {"blocked_by": verdict.rule.value}
        user_id: str | None = None
        if verdict.reinstate:
            user_id = await self.locks.known_user_id(job.email, job.user_id)
            proof = await self.locks.reinstate(user_id, paths)

        def write(session: Session, decision: LockDecision) -> None:
            decision.status, decision.ended_at, decision.end_proof = "ended", self.clock(), proof
            decision.end_reason = verdict.end_reason
            if user_id is not None:
                applied_record.carry_lock_write(session, user_id=user_id, enabled=True, roles_joined=paths)
            ledger.append(
                session, actor=ACTOR, action="unlock", target=f"person:{job.email}",
                outcome="allowed" if verdict.reinstate else "refused", rule=verdict.rule,
                detail={**ledger_detail(decision, paths), "requested_by": decision.requested_by},
            )  # fmt: skip

        return await self._record(job, "applied" if verdict.reinstate else "skipped", write)

    # --- loops ---------------------------------------------------------------------------------------
    async def tick(self) -> list[JobOutcome]:
        """Claim what is due now and work on it, ``concurrency`` jobs at a time: grant memberships first (so a
        lock taken in the same pass snapshots the role groups granted before it), then lock jobs."""
        gate = asyncio.Semaphore(self.concurrency)

        async def bounded(work: Awaitable[JobOutcome]) -> JobOutcome:
            async with gate:
                return await work

        members = await asyncio.to_thread(self.memberships.claim)
        outcomes = list(await asyncio.gather(*(bounded(self.memberships.work(j)) for j in members)))
        claimed = await asyncio.to_thread(self.claim)
        outcomes += await asyncio.gather(*(bounded(self._work(j)) for j in claimed))
        return outcomes

    async def run(self, *, stop: threading.Event, wake: asyncio.Event | None = None,
                  interval_s: float = 1.0) -> None:  # fmt: skip
        """Work until ``stop`` is set, keeping up to ``concurrency`` jobs in flight.

        New work is claimed whenever ``wake`` is set (an API commit, a finished job) or every ``interval_s``,
        without waiting for jobs already in flight, so a decision accepted while others are being applied
        starts at once.
        """
        wake = wake or asyncio.Event()
        inflight: set[asyncio.Task[JobOutcome]] = set()

        def done(task: asyncio.Task[JobOutcome]) -> None:
            inflight.discard(task)
            wake.set()

        while not stop.is_set():
            wake.clear()
            free = self.concurrency - len(inflight)
            members: list[ClaimedMembership] = await asyncio.to_thread(self.memberships.claim, free) if free > 0 else []
            free -= len(members)
            locks: list[Claimed] = await asyncio.to_thread(self.claim, free) if free > 0 else []
            for work in [self.memberships.work(m) for m in members] + [self._work(j) for j in locks]:
                task = asyncio.create_task(work)
                inflight.add(task)
                task.add_done_callback(done)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=interval_s)
        if inflight:
            await asyncio.gather(*inflight)


class BackgroundWorker:
    """A scheduler on its own thread and event loop (the API process and the benchmark run one)."""

    def __init__(self, make: Callable[[], LockScheduler], *, interval_s: float = 1.0) -> None:
        self._make, self._interval = make, interval_s
        self._stop = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="lock-scheduler", daemon=True)

    def _main(self) -> None:
        async def body() -> None:
            self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
            scheduler = self._make()
            self._ready.set()
            try:
                await scheduler.run(stop=self._stop, wake=self._wake, interval_s=self._interval)
            finally:
                await scheduler.locks.admin.aclose()

        asyncio.run(body())

    def start(self) -> BackgroundWorker:
        """Start the thread; returns once the loop runs."""
        self._thread.start()
        self._ready.wait(30)
        return self

    def wake(self) -> None:
        """Start a tick now (thread-safe)."""
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def close(self) -> None:
        """Stop after the current tick."""
        self._stop.set()
        self.wake()
        self._thread.join(60)


def realm_locks(settings: Settings, directory: DirectoryLookup) -> KeycloakLocks:
    """The Keycloak actions of the configured realm; with units in other realms (units.yaml ``realm``), each
    person's actions go to their unit's realm (docs/decisions/0702)."""
    units = load_units(settings.keycloak.config_dir / "units.yaml").deployed_as(settings.keycloak.realm)
    default = service_account_admin(settings.keycloak)
    if len(units.realm_names()) == 1:
        return KeycloakLocks(default)

    def find_unit(email: str) -> str | None:
        person = directory.find(email)
        return person.unit_code if person is not None else None

    def realm_of_unit(code: str) -> str:
        return units.realm_of(code, today_vn())

    others = {name: KeycloakLocks(service_account_admin(settings.keycloak, realm=name))
              for name in units.realm_names()[1:]}  # fmt: skip
    return RealmLocks(default, others=others, realm_of=realm_of_person(find_unit, realm_of_unit))


def build_scheduler(
    settings: Settings,
    *,
    factory: sessionmaker[Session] | None = None,
    directory: DirectoryLookup | None = None,
    clock: Clock = _utc_now,
    **options: Any,
) -> LockScheduler:
    """A scheduler on the configured store, realm (the bridge's service account) and directory."""
    if directory is None:
        directory = directory_for(settings)
    return LockScheduler(
        factory=factory or session_factory(settings.store.url),
        locks=realm_locks(settings, directory),
        directory=directory,
        clock=clock,
        concurrency=settings.keycloak.concurrency,
        **{"role_valve": RoleValve(settings.sync, settings.governance.it_center_unit), **options},
    )
