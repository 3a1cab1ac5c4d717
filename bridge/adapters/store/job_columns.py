"""The columns every claimable job table has: the store side of the one job queue (``bridge.services.job_queue``).

Lock jobs (``lock_jobs``) and grant membership jobs (``grant_jobs``) are claimed, leased, finished and given
back the same way, so they carry the same claim columns; they are declared once here and mixed into both
models. The tables themselves are created by their Alembic revisions (``lock_0001``, ``grant_0001``), which
these declarations must match column for column.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

#: A job waiting to be done (the only state a worker claims).
PENDING = "pending"
#: A job a worker finished.
DONE = "done"


class JobColumns:
    """Declarative mixin: the id, state, back-off, claim and outcome columns of a job table."""

    #: The job's number; jobs are claimed in this order (after any order of their own, e.g. the due day).
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True, sort_order=-1)
    #: pending | done (| cancelled: a lock job whose decision was cancelled or replaced)
    state: Mapped[str] = mapped_column(String(16), index=True)
    #: Failed attempts so far; the back-off doubles with each.
    attempts: Mapped[int] = mapped_column(default=0)
    #: Earliest moment of the next attempt (back-off after a failure).
    not_before: Mapped[dt.datetime]
    #: The worker holding the claim (host:pid:random), or None.
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    #: The claim's lease: after it a crashed worker's job is free again.
    claimed_until: Mapped[dt.datetime | None]
    #: The last failure, ``<code>: <message>``, cut to 500 characters.
    last_error: Mapped[str | None] = mapped_column(String(500))
    done_at: Mapped[dt.datetime | None]
