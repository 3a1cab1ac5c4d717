"""Lock decisions in the store: scope, dates, holds, jobs, endings, import, and exactly-once claiming.

No Keycloak here: these tests stop at the store (the scheduler's claim is pure store work). The Keycloak side is
in tests/integration/test_locks.py.
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bridge.adapters.keycloak.admin import KeycloakAdmin
from bridge.adapters.store.lock_models import LockDecision, LockJob
from bridge.adapters.store.models import LedgerEntry
from bridge.adapters.store.session import transaction
from bridge.domain.lock_reasons import LockReason
from bridge.errors import Conflict, InvalidInput
from bridge.services.context import GovContext, OutOfScope, Refused
from bridge.services.holds import StoreHolds
from bridge.services.locks import decisions
from bridge.services.locks.intake import ImportRejected
from bridge.services.locks.keycloak_actions import KeycloakLocks
from bridge.services.locks.scheduler import LockScheduler
from tests.locks.lock_world import AN, BINH, CUONG, DAY, HCM, HN, IT, actor
from tests.unit.test_lock_import import csv_bytes, row

VN_MIDNIGHT_UTC = dt.time(17, 0, tzinfo=dt.UTC)  # 00:00 in Asia/Ho_Chi_Minh is 17:00 UTC the day before


def maternity(session: Session, ctx: GovContext, *, by: str = HN, email: str = AN, start: dt.date = DAY,
              end: dt.date = DAY + dt.timedelta(days=180)) -> LockDecision:  # fmt: skip
    return decisions.request_lock(session, ctx=ctx, actor=actor(session, by), email=email, reason=LockReason.MATERNITY,
                                decision_number="15/QĐ-BHXH", decision_date=DAY - dt.timedelta(days=10),
                                effective_date=start, end_date=end)  # fmt: skip


def test_province_admin_records_a_maternity_lock_with_hold_jobs_and_ledger_row(
    factory: sessionmaker[Session], ctx: GovContext
) -> None:
    with transaction(factory) as session:
        decision = maternity(session, ctx, start=DAY + dt.timedelta(days=7))
    with factory() as session:
        jobs = session.scalars(select(LockJob).where(LockJob.decision_id == decision.id).order_by(LockJob.id)).all()
        assert [(j.kind, j.due_date, j.state) for j in jobs] == [
            ("apply", DAY + dt.timedelta(days=7), "pending"),
            ("reinstate", DAY + dt.timedelta(days=180), "pending"),
        ]
        holds = StoreHolds(session)
        assert AN not in holds.held_on(DAY + dt.timedelta(days=6))
        assert AN in holds.held_on(DAY + dt.timedelta(days=7))
        assert AN in holds.held_on(DAY + dt.timedelta(days=179))
        assert AN not in holds.held_on(DAY + dt.timedelta(days=180))  # back at work on the end date
        entry = session.scalars(select(LedgerEntry).order_by(LedgerEntry.id.desc())).first()
        assert entry is not None and (entry.action, entry.outcome, entry.rule) == (
            "lock.request", "allowed", "R4-province-own-units")  # fmt: skip
        assert entry.detail["reason_label_vi"] == "nghỉ thai sản" and entry.detail["unit_code"] == "01001"


def test_out_of_province_lock_answers_like_missing_and_it_center_locks_violations_anywhere(
    factory: sessionmaker[Session], ctx: GovContext
) -> None:
    with pytest.raises(OutOfScope), transaction(factory) as session:
        maternity(session, ctx, email=CUONG)
    with pytest.raises(Refused, match="R7-province-delegated"), transaction(factory) as session:
        decisions.request_lock(session, ctx=ctx, actor=actor(session, IT), email=CUONG, reason=LockReason.RETIRED,
                             decision_number="1/QĐ", decision_date=DAY)  # fmt: skip
    with transaction(factory) as session:
        it = actor(session, IT)
        at_once = decisions.request_lock(
            session, ctx=ctx, actor=it, email=CUONG, reason=LockReason.VIOLATION, decision_number=None,
            decision_date=None,
        )  # fmt: skip
    assert (at_once.effective_date, at_once.decision_number) == (DAY, None)
    with factory() as session:
        assert session.scalar(select(LockDecision.id).where(LockDecision.email == CUONG)) == at_once.id


def test_duplicate_decision_is_a_conflict(factory: sessionmaker[Session], ctx: GovContext) -> None:
    with transaction(factory) as session:
        maternity(session, ctx)
    with pytest.raises(Conflict, match="already recorded"), transaction(factory) as session:
        maternity(session, ctx)


def test_cancel_before_effect_ends_the_hold_and_jobs_but_not_after_effect(
    factory: sessionmaker[Session], ctx: GovContext
) -> None:
    with transaction(factory) as session:
        future = maternity(session, ctx, start=DAY + dt.timedelta(days=7))
        applied = maternity(session, ctx, email=BINH)
    with transaction(factory) as session:
        session.get(LockDecision, applied.id).status = "in_force"  # type: ignore[union-attr]
        for job in session.scalars(select(LockJob).where(LockJob.decision_id == applied.id, LockJob.kind == "apply")):
            job.state = "done"
    with transaction(factory) as session:
        cancelled = decisions.cancel_lock(session, ctx=ctx, actor=actor(session, HN), decision_id=future.id)
    assert cancelled.status == "cancelled"
    with factory() as session:
        assert AN not in StoreHolds(session).held_on(DAY + dt.timedelta(days=7))
        assert {j.state for j in session.scalars(select(LockJob).where(LockJob.decision_id == future.id))} == {
            "cancelled"}  # fmt: skip
    with pytest.raises(Conflict, match="not yet in effect"), transaction(factory) as session:
        decisions.cancel_lock(session, ctx=ctx, actor=actor(session, HN), decision_id=applied.id)
    with pytest.raises(OutOfScope), transaction(factory) as session:
        decisions.cancel_lock(session, ctx=ctx, actor=actor(session, HCM), decision_id=future.id)


def test_an_unknown_lock_is_404_citing_its_own_rule(factory: sessionmaker[Session], ctx: GovContext) -> None:
    with pytest.raises(OutOfScope) as refused, transaction(factory) as session:
        decisions.cancel_lock(session, ctx=ctx, actor=actor(session, HN), decision_id=999)
    assert refused.value.rule == "E5-unknown-lock"  # E4 is an unknown approval


def test_extension_and_early_return_move_the_hold_and_the_reinstatement(
    factory: sessionmaker[Session], ctx: GovContext
) -> None:
    end = DAY + dt.timedelta(days=180)
    with transaction(factory) as session:
        decision = maternity(session, ctx, end=end)
    with transaction(factory) as session:
        decisions.change_end_date(session, ctx=ctx, actor=actor(session, HN), decision_id=decision.id,
                                end_date=end + dt.timedelta(days=30))  # fmt: skip
    with factory() as session:
        assert AN in StoreHolds(session).held_on(end + dt.timedelta(days=29))
        job = session.scalars(select(LockJob).where(LockJob.kind == "reinstate")).one()
        assert job.due_date == end + dt.timedelta(days=30)
    with transaction(factory) as session:
        decisions.change_end_date(session, ctx=ctx, actor=actor(session, HN), decision_id=decision.id,
                                end_date=DAY + dt.timedelta(days=20))  # fmt: skip
    with factory() as session:
        assert AN not in StoreHolds(session).held_on(DAY + dt.timedelta(days=20))
        actions = [e.action for e in session.scalars(select(LedgerEntry).order_by(LedgerEntry.id))][-2:]
        assert actions == ["lock.extend", "lock.return_early"]
    with pytest.raises(InvalidInput, match="after the effective date"), transaction(factory) as session:
        decisions.change_end_date(session, ctx=ctx, actor=actor(session, HN), decision_id=decision.id, end_date=DAY)


def test_import_is_all_or_nothing_and_each_row_is_scope_checked(
    factory: sessionmaker[Session], ctx: GovContext
) -> None:
    good = csv_bytes(row(effective="03/11/2025", end="03/05/2026"),
                     row(email=BINH, reason="nghỉ hưu", end=""))  # fmt: skip
    with_foreign = csv_bytes(row(email=BINH, reason="nghỉ hưu", end=""), row(email=CUONG, reason="nghỉ hưu", end=""))
    with pytest.raises(ImportRejected) as rejected, transaction(factory) as session:
        decisions.import_locks(session, ctx=ctx, actor=actor(session, HN), data=with_foreign, filename="ds.csv")
    assert [(p.row, p.column) for p in rejected.value.problems] == [(3, "Thư điện tử công vụ")]
    with factory() as session:
        assert session.scalars(select(LockDecision)).all() == []
    with transaction(factory) as session:
        made = decisions.import_locks(session, ctx=ctx, actor=actor(session, HN), data=good, filename="ds.csv")
    assert [(d.email, d.reason_code, d.source[:7]) for d in made] == [
        (AN, "maternity", "import:"), (BINH, "retired", "import:")]  # fmt: skip


def _scheduler(factory: sessionmaker[Session], name: str, clock: dt.datetime) -> LockScheduler:
    locks = KeycloakLocks(KeycloakAdmin(server_url="http://127.0.0.1:9", realm="bhxh"))
    return LockScheduler(factory=factory, locks=locks, clock=lambda: clock, worker_id=name)


def test_future_lock_is_not_due_until_midnight_in_vietnam(factory: sessionmaker[Session], ctx: GovContext) -> None:
    monday = DAY + dt.timedelta(days=7)
    with transaction(factory) as session:
        maternity(session, ctx, start=monday)
    sunday_evening_vn = dt.datetime.combine(monday - dt.timedelta(days=1), dt.time(16, 59, 59, tzinfo=dt.UTC))
    assert _scheduler(factory, "w1", sunday_evening_vn).claim() == []
    monday_midnight_vn = dt.datetime.combine(monday - dt.timedelta(days=1), VN_MIDNIGHT_UTC)
    claimed = _scheduler(factory, "w1", monday_midnight_vn).claim()
    assert [(c.kind, c.email) for c in claimed] == [("apply", AN)]


def test_concurrent_workers_never_claim_the_same_job(any_factory: sessionmaker[Session], ctx: GovContext) -> None:
    with transaction(any_factory) as session:
        for email in (AN, BINH):
            for start in range(12):
                maternity(session, ctx, email=email, start=DAY - dt.timedelta(days=start + 1))
    now = dt.datetime.combine(DAY, dt.time(3, 0, tzinfo=dt.UTC))
    workers = [_scheduler(any_factory, f"w{i}", now) for i in range(4)]
    for w in workers:
        w.batch = 5
    claimed: dict[str, list[int]] = {}

    def drain(w: LockScheduler) -> None:
        mine: list[int] = []
        while batch := w.claim():
            mine += [c.job_id for c in batch]
        claimed[w.worker_id] = mine

    threads = [threading.Thread(target=drain, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    every = [j for ids in claimed.values() for j in ids]
    assert len(every) == len(set(every)) == 24, claimed
    later = dt.datetime.combine(DAY, dt.time(3, 1, tzinfo=dt.UTC))
    assert _scheduler(any_factory, "w9", later).claim() == []  # leases still held
    expired = dt.datetime.combine(DAY, dt.time(3, 5, tzinfo=dt.UTC))
    assert len(_scheduler(any_factory, "w9", expired).claim()) == 24  # a crashed worker's jobs come back
