"""The executor and a store that stops answering: no new person while a batch is retried, then the run stops.

No server is needed: the operations are applied by a stand-in ``apply`` (the Keycloak side is tested on the
real servers in tests/reliability/test_outages.py); what is under test is the executor's own rule.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy import select

from bridge.adapters.store import spool
from bridge.adapters.store.migrate import upgrade
from bridge.adapters.store.models import LedgerEntry
from bridge.adapters.store.session import session_factory, transaction
from bridge.adapters.store.sync_models import SyncOperation, SyncRun
from bridge.domain.sync.planner import Operation, OpKind, Reason
from bridge.errors import StoreUnavailable
from bridge.services.sync import executor as executor_module
from bridge.services.sync.executor import Executor, OpResult
from bridge.services.sync.run import _spooled, replay_spool, spool_prefix
from bridge.settings import Settings, StoreSettings, SyncSettings


class Applied(Executor):
    """Applies instantly and counts what it applied."""

    def __init__(self) -> None:
        super().__init__(admin=None, group_ids={}, concurrency=4)  # type: ignore[arg-type]
        self.applied = 0

    async def apply(self, op: Operation) -> OpResult:
        await asyncio.sleep(0.005)
        self.applied += 1
        return OpResult(op, True, "id", None, dt.datetime.now(dt.UTC), 1)


def ops(n: int) -> list[Operation]:
    return [Operation(OpKind.DISABLE, Reason.LEAVER, f"p{i}@hanoi.vss.gov.vn", "01001", f"id{i}") for i in range(n)]


def test_a_store_that_does_not_come_back_stops_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(executor_module, "RECORD_RETRY_S", (0.05, 0.05))
    monkeypatch.setattr(executor_module, "FLUSH_EVERY_S", 0.02)
    attempts: list[int] = []

    def recorder(batch: Sequence[OpResult]) -> None:
        attempts.append(len(batch))
        raise StoreUnavailable("the store is unavailable")

    run = Applied()
    with pytest.raises(StoreUnavailable):
        asyncio.run(run.run(ops(2000), recorder=recorder))
    assert len(attempts) >= 3  # the first batch, retried twice
    assert run.applied < 200  # far from the 2,000 planned: nobody new started once the store failed
    assert 0 < len(run.unrecorded) <= run.applied  # handed back for the spool


def test_a_store_back_within_the_retries_loses_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(executor_module, "RECORD_RETRY_S", (0.05, 0.05, 0.05))
    monkeypatch.setattr(executor_module, "FLUSH_EVERY_S", 0.02)
    recorded: list[str] = []
    failures = iter([True, True])

    def recorder(batch: Sequence[OpResult]) -> None:
        if next(failures, False):
            raise StoreUnavailable("the store is unavailable")
        recorded.extend(r.op.mail for r in batch)

    run = Applied()
    results = asyncio.run(run.run(ops(300), recorder=recorder))
    assert len(results) == 300 and sorted(recorded) == sorted(op.mail for op in ops(300))


def test_what_could_not_be_recorded_is_spooled_and_recorded_by_the_next_run(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    upgrade(url=url)
    settings = Settings(store=StoreSettings(url=url), sync=SyncSettings(spool_dir=tmp_path / "spool"))
    factory = session_factory(url)
    with transaction(factory) as session:
        run = SyncRun(started_at=dt.datetime.now(dt.UTC), mode="full", dry_run=False, status="running",
                      day=dt.date(2026, 11, 26), realm="bhxh", report={})  # fmt: skip
        session.add(run)
        session.flush()
        run_id = run.id
    lost = [OpResult(op, True, op.user_id, None, dt.datetime.now(dt.UTC), 1) for op in ops(3)]
    spool.write(settings.sync.spool_dir, f"{spool_prefix(settings)}run{run_id}", _spooled(run_id, lost))
    other = settings.model_copy(deep=True)
    other.store.url = f"sqlite:///{tmp_path / 'other.sqlite3'}"
    assert spool.pending(settings.sync.spool_dir, spool_prefix(other)) == []  # never replayed into another store

    assert replay_spool(factory, settings) == 3
    with factory() as session:
        recorded = session.scalars(select(SyncOperation.email).where(SyncOperation.run_id == run_id)).all()
        rows = session.scalars(select(LedgerEntry.target).where(LedgerEntry.action == "sync.disable")).all()
    assert sorted(recorded) == sorted(op.mail for op in ops(3)) and len(rows) == 3
    assert list((tmp_path / "spool").glob("*.json")) == []
    assert replay_spool(factory, settings) == 0
