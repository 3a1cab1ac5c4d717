"""The sync engine's tables in the bridge's store: runs, applied operations, high-water marks, leavers, holds.

The store is the engine's memory between runs: which operations a run applied (so a killed run can be
explained and its rerun shown to converge), the directory's modifyTimestamp high-water mark for incremental
runs, the leavers the bridge disabled (so a returner is recognised, and a leaver is disabled once), and the
holds (khóa theo quyết định) that the lock lifecycle writes and the planner must respect. The schema is owned
by the Alembic revision ``sync_0001``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bridge.adapters.store.models import CODE, EMAIL, Base


class SyncRun(Base):
    """One directory → Keycloak run (lượt đồng bộ)."""

    __tablename__ = "sync_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    started_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime | None]
    #: full | incremental
    mode: Mapped[str] = mapped_column(String(16))
    dry_run: Mapped[bool] = mapped_column(default=False)
    #: running | planned | halted | applied | partial | failed
    status: Mapped[str] = mapped_column(String(16), index=True)
    day: Mapped[dt.date]
    realm: Mapped[str] = mapped_column(String(64))
    plan_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    planned: Mapped[int] = mapped_column(default=0)
    applied: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    reads: Mapped[int] = mapped_column(default=0)
    writes: Mapped[int] = mapped_column(default=0)
    #: Rejected directory entries, valve reasons, counts by reason.
    report: Mapped[dict[str, Any]]


class SyncOperation(Base):
    """One operation a run applied (or failed to apply)."""

    __tablename__ = "sync_operations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("sync_runs.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(16))
    email: Mapped[str] = mapped_column(String(EMAIL), index=True)
    unit_code: Mapped[str] = mapped_column(String(CODE))
    user_id: Mapped[str | None] = mapped_column(String(64))
    #: applied | failed
    status: Mapped[str] = mapped_column(String(8))
    error: Mapped[str | None] = mapped_column(String(500))
    at: Mapped[dt.datetime]


class SyncState(Base):
    """Small named values of the engine: ``high_water``, ``runs_since_full``, ``last_full_day``."""

    __tablename__ = "sync_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


class SyncLeaver(Base):
    """A person the bridge disabled because they left the directory (khóa do nghỉ việc)."""

    __tablename__ = "sync_leavers"

    email: Mapped[str] = mapped_column(String(EMAIL), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64))
    unit_code: Mapped[str] = mapped_column(String(CODE))
    run_id: Mapped[int] = mapped_column(ForeignKey("sync_runs.id"))
    disabled_at: Mapped[dt.datetime]


class PersonHold(Base):
    """A lock in force from ``effective_from`` to ``effective_to``: the sync must not re-enable the person."""

    __tablename__ = "person_holds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(EMAIL), index=True)
    #: A lock reason code (maternity, long_sick_leave, terminated, …).
    reason: Mapped[str] = mapped_column(String(CODE))
    effective_from: Mapped[dt.date]
    effective_to: Mapped[dt.date | None]
    #: What created the hold (a lock decision's reference).
    source: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime]
