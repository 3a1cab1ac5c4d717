"""The full Phụ lục 01 through the lock service (on SQLite and the real PostgreSQL): one file mixing "Khóa",
"Cấp" and "Mở khóa" rows records a lock decision, a grant with its membership job and the early end of an open
temporary lock — or, when any row is refused, nothing at all."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bridge.adapters.store.lock_models import LockDecision
from bridge.adapters.store.models import Grant, GrantJob, LedgerEntry
from bridge.adapters.store.session import transaction
from bridge.domain.lock_reasons import LockReason
from bridge.services.context import GovContext
from bridge.services.locks import decisions
from bridge.services.locks.intake import ImportRejected
from tests.locks.lock_world import AN, BINH, CUONG, DAY, HN, actor
from tests.unit.test_lock_import import csv_bytes, row


def _cap(email: str) -> list[str]:
    cells = row(email=email, request="Cấp", reason="Nhân sự mới", effective="01/11/2025", end="", number="9/QĐ")
    cells[5], cells[6] = "TST", "operator"
    return cells


def _mo_khoa(email: str, back: dt.date) -> list[str]:
    return row(email=email, request="Mở khóa", reason="Đi làm sớm", effective=f"{back:%d/%m/%Y}", end="",
               number="46/QĐ-BHXH")  # fmt: skip


def _maternity_of_binh(factory: sessionmaker[Session], ctx: GovContext) -> LockDecision:
    with transaction(factory) as session:
        return decisions.request_lock(
            session, ctx=ctx, actor=actor(session, HN), email=BINH, reason=LockReason.MATERNITY,
            decision_number="30/QĐ-BHXH", decision_date=DAY, effective_date=DAY, end_date=DAY + dt.timedelta(days=180),
        )  # fmt: skip


def _state(factory: sessionmaker[Session]) -> tuple[int, int, int, list[dt.date | None]]:
    with factory() as session:
        locks = session.scalars(select(LockDecision).order_by(LockDecision.id)).all()
        return (len(locks), len(session.scalars(select(Grant)).all()), len(session.scalars(select(GrantJob)).all()),
                [d.end_date for d in locks])  # fmt: skip


def test_a_mixed_file_is_applied_whole_or_not_at_all(any_factory: sessionmaker[Session], ctx: GovContext) -> None:
    factory = any_factory
    lock = _maternity_of_binh(factory, ctx)
    back = DAY + dt.timedelta(days=30)
    khoa = row(email=AN, reason="nghỉ hưu", effective="01/12/2025", end="")
    before = _state(factory)

    foreign = row(email=CUONG, reason="nghỉ hưu", end="")  # another province: refused at row 5
    with pytest.raises(ImportRejected) as rejected, transaction(factory) as session:
        decisions.import_phu_luc(session, ctx=ctx, actor=actor(session, HN), filename="pl01.csv",
                                 data=csv_bytes(khoa, _cap(AN), _mo_khoa(BINH, back), foreign))  # fmt: skip
    assert [(p.row, p.column) for p in rejected.value.problems] == [(5, "Thư điện tử công vụ")]
    assert _state(factory) == before, "nothing of rows 2–4 was kept"

    with pytest.raises(ImportRejected) as no_lock, transaction(factory) as session:
        decisions.import_phu_luc(session, ctx=ctx, actor=actor(session, HN), filename="pl01.csv",
                                 data=csv_bytes(khoa, _mo_khoa(AN, back)))  # fmt: skip
    assert [(p.row, p.column) for p in no_lock.value.problems] == [(3, "Thư điện tử công vụ")]
    assert "no open temporary lock" in no_lock.value.problems[0].problem
    assert _state(factory) == before

    with transaction(factory) as session:
        made = decisions.import_phu_luc(session, ctx=ctx, actor=actor(session, HN), filename="pl01.csv",
                                        data=csv_bytes(khoa, _cap(AN), _mo_khoa(BINH, back)))  # fmt: skip
    assert made.applied == 3
    assert [(d.email, d.reason_code, d.status) for d in made.locks] == [(AN, "retired", "scheduled")]
    assert [(g.email, g.application, g.role_group, g.request_id) for g in made.grants] == [
        (AN, "TST", "operator", "PL01 9/QĐ dòng 3")]  # fmt: skip
    assert [(d.id, d.end_date) for d in made.early_endings] == [(lock.id, back)]
    with factory() as session:
        rows = session.scalars(select(LedgerEntry).order_by(LedgerEntry.id.desc()).limit(3)).all()
        assert [(e.action, e.target) for e in reversed(rows)] == [
            ("lock.request", f"person:{AN}"),
            ("grant", f"person:{AN}"),
            ("lock.return_early", f"person:{BINH}"),
        ]
        assert rows[0].detail["row"] == 4 and rows[1].detail["row"] == 3  # fmt: skip
        [job] = session.scalars(select(GrantJob)).all()
        assert (job.kind, job.path, job.state) == ("join", "/apps/TST/operator", "pending")
