"""Grant membership jobs in the store (docs/decisions/0403): written with the grant, claimed once, in order.

No Keycloak here: a grant and a revocation each leave one pending job in their own transaction; concurrent
workers never claim the same job (SQLite and PostgreSQL), and a later job of the same person and role group
waits while an earlier one is pending. The Keycloak side is in tests/integration/test_grants_keycloak.py.
"""

from __future__ import annotations

import datetime as dt
import threading

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from bridge.adapters.keycloak.admin import KeycloakAdmin
from bridge.adapters.store.models import Grant, GrantJob
from bridge.adapters.store.session import transaction
from bridge.services import grants
from bridge.services.context import GovContext
from bridge.services.locks.keycloak_actions import KeycloakLocks
from bridge.services.locks.scheduler import LockScheduler
from tests.locks.lock_world import AN, BINH, DAY, HN, actor

NOW = dt.datetime.combine(DAY, dt.time(3, 0, tzinfo=dt.UTC))


def _grant(session: Session, ctx: GovContext, email: str, app: str, role: str) -> Grant:
    return grants.request_grant(session, ctx=ctx, actor=actor(session, HN), email=email, application=app,
                                role_group=role)  # fmt: skip


def _scheduler(factory: sessionmaker[Session], name: str) -> LockScheduler:
    locks = KeycloakLocks(KeycloakAdmin(server_url="http://127.0.0.1:9", realm="bhxh"))
    return LockScheduler(factory=factory, locks=locks, clock=lambda: NOW, worker_id=name)


def test_grant_and_revocation_each_write_a_pending_job_with_the_grant(
    any_factory: sessionmaker[Session], ctx: GovContext
) -> None:
    with transaction(any_factory) as session:
        grant_id = _grant(session, ctx, AN, "TST", "operator").id
    with transaction(any_factory) as session:
        grants.revoke_grant(session, ctx=ctx, actor=actor(session, HN), grant_id=grant_id)
    with any_factory() as session:
        jobs = session.scalars(select(GrantJob).order_by(GrantJob.id)).all()
        assert [(j.grant_id, j.kind, j.email, j.path, j.state) for j in jobs] == [
            (grant_id, "join", AN, "/apps/TST/operator", "pending"),
            (grant_id, "leave", AN, "/apps/TST/operator", "pending"),
        ]


def test_workers_claim_each_job_once_and_a_persons_role_group_in_order(
    any_factory: sessionmaker[Session], ctx: GovContext
) -> None:
    with transaction(any_factory) as session:
        first = _grant(session, ctx, AN, "TST", "operator")
        _grant(session, ctx, AN, "QLVB", "staff")
        _grant(session, ctx, BINH, "TST", "operator")
        grants.revoke_grant(session, ctx=ctx, actor=actor(session, HN), grant_id=first.id)
        _grant(session, ctx, AN, "TST", "operator")  # granted again: a third job on AN's /apps/TST/operator
    workers = [_scheduler(any_factory, f"w{i}") for i in range(4)]
    claimed: dict[str, list[int]] = {}

    def drain(w: LockScheduler) -> None:
        claimed[w.worker_id] = [c.job_id for c in w.memberships.claim(1)]

    threads = [threading.Thread(target=drain, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    every = sorted(j for ids in claimed.values() for j in ids)
    assert every == [1, 2, 3], claimed  # AN's later TST jobs (4, 5) wait behind job 1

    with transaction(any_factory) as session:
        session.execute(update(GrantJob).where(GrantJob.id == 1).values(state="done", claimed_until=None))
    assert [(c.job_id, c.kind) for c in _scheduler(any_factory, "w9").memberships.claim()] == [(4, "leave")]
