"""Tables of the lock lifecycle: decisions (quyết định khóa) and the scheduler's jobs, in the bridge's store.

The store is the scheduler's only memory: a job row says what must happen on which Vietnamese calendar day,
who claimed it and until when, and how often it failed; a decision row keeps what Keycloak showed after the
change (the proof). Because nothing lives in a process, a restarted or second worker picks up exactly where the
first stopped. The schema is owned by the Alembic revision ``lock_0001``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bridge.adapters.store.job_columns import JobColumns
from bridge.adapters.store.models import CODE, EMAIL, Base

#: ``not_before`` of a job that never failed: due as soon as its day comes, whatever the scheduler's clock.
NO_BACKOFF = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


class LockDecision(Base):
    """A personnel decision that locks one account (quyết định khóa tài khoản) and what became of it."""

    __tablename__ = "lock_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(EMAIL), index=True)
    #: Unit of the person when the decision was taken (from the directory), for scope and reports.
    unit_code: Mapped[str] = mapped_column(String(CODE), index=True)
    reason_code: Mapped[str] = mapped_column(String(CODE))
    #: Số quyết định (None only for an IT Center violation lock).
    decision_number: Mapped[str | None] = mapped_column(String(64))
    decision_date: Mapped[dt.date | None]
    #: Ngày hiệu lực: the Vietnamese calendar day from which the person may not log in.
    effective_date: Mapped[dt.date] = mapped_column(index=True)
    #: Ngày kết thúc: the day the person works again (temporary reasons only).
    end_date: Mapped[dt.date | None]
    requested_by: Mapped[str] = mapped_column(String(EMAIL))
    requested_at: Mapped[dt.datetime]
    #: api | cli | import:<file sha256 prefix>
    source: Mapped[str] = mapped_column(String(80))
    #: scheduled | in_force | ended | cancelled | done (transfer applied)
    status: Mapped[str] = mapped_column(String(16), index=True)
    hold_id: Mapped[int | None] = mapped_column(ForeignKey("person_holds.id"))
    user_id: Mapped[str | None] = mapped_column(String(64))
    #: Application role-group paths the account held when the lock took effect (restored on return).
    role_groups: Mapped[list[str] | None] = mapped_column(JSON)
    #: What Keycloak showed after the lock: enabled, sessions, offline sessions, time of the check.
    proof: Mapped[dict[str, Any] | None]
    applied_at: Mapped[dt.datetime | None]
    ended_at: Mapped[dt.datetime | None]
    #: returned (planned end), early_return, cancelled, still_held, left_directory
    end_reason: Mapped[str | None] = mapped_column(String(32))
    end_proof: Mapped[dict[str, Any] | None]


class LockJob(JobColumns, Base):
    """One effective-dated action of a decision, claimed by one worker at a time.

    The claim columns (state, lease, back-off) are :class:`JobColumns`.
    """

    __tablename__ = "lock_jobs"
    __table_args__ = (UniqueConstraint("decision_id", "kind", name="uq_lock_jobs_decision_kind"),)

    decision_id: Mapped[int] = mapped_column(ForeignKey("lock_decisions.id"), index=True)
    #: apply (khóa) | reinstate (mở lại)
    kind: Mapped[str] = mapped_column(String(16))
    #: Vietnamese calendar day on which the job becomes due.
    due_date: Mapped[dt.date] = mapped_column(index=True)
