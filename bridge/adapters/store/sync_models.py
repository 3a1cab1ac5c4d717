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

from sqlalchemy import ForeignKey, Integer, String, Text
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


class AppliedPerson(Base):
    """The bridge's own record of what it applied to one person (bản ghi đã áp dụng).

    Written by the sync executor in the same transaction as the operations it records, by the console watcher
    for console changes it accepts, and rewritten from Keycloak and the directory by every full run. An
    incremental run compares the directory's changes with this record instead of listing Keycloak
    (docs/decisions/0900); a full run never trusts it.
    """

    __tablename__ = "sync_applied"

    email: Mapped[str] = mapped_column(String(EMAIL), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    #: Path of the unit group the person is in ("" when in none).
    unit_group: Mapped[str] = mapped_column(String(255))
    enabled: Mapped[bool]
    #: Paths of the application role groups, sorted, "\n"-separated ("" when none).
    role_groups: Mapped[str] = mapped_column(Text, default="")
    #: SHA-256 (first 32 hex) of the directory entry last applied (:func:`bridge.domain.sync.record.entry_hash`).
    entry_hash: Mapped[str] = mapped_column(String(32), default="")
    updated_at: Mapped[dt.datetime]


class ManagedGroup(Base):
    """Path → Keycloak id of a managed group, so an incremental run need not read the group tree."""

    __tablename__ = "sync_groups"

    path: Mapped[str] = mapped_column(String(255), primary_key=True)
    group_id: Mapped[str] = mapped_column(String(64))
