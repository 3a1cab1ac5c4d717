"""What one attempt at one scheduler job came to, and how a failed one is given back, for lock jobs and grant
membership jobs alike."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bridge.adapters.store.lock_models import LockJob
from bridge.adapters.store.models import GrantJob
from bridge.errors import BridgeError, TransientError


@dataclass(frozen=True)
class JobOutcome:
    """One attempt at one job.

    Lock jobs (``apply``, ``reinstate``) name their decision and end ``applied``, ``skipped`` (nothing to do),
    ``failed`` (retried) or ``lost`` (another worker recorded it). Membership jobs (``join``, ``leave``) name
    their grant and end ``joined``, ``left``, ``kept`` (another active grant holds the role group), ``absent``
    (no Keycloak account to leave), ``failed`` or ``lost``.
    """

    job_id: int
    decision_id: int | None
    kind: str
    status: str
    error: str | None = None
    grant_id: int | None = None


def release_failed(
    session: Session,
    table: type[LockJob] | type[GrantJob],
    *,
    job_id: int,
    worker_id: str,
    exc: BridgeError,
    now: dt.datetime,
    retry_base_s: float,
    retry_cap_s: float,
) -> None:
    """Give a failed job back for a later attempt, if this worker still holds it.

    The wait doubles with each attempt up to ``retry_cap_s``. A permanent refusal (e.g. credentials) is retried
    too, but slowly, from the cap: an operator must look at it.
    """
    attempts = session.scalar(select(table.attempts).where(table.id == job_id)) or 0
    base = retry_base_s if isinstance(exc, TransientError) else retry_cap_s
    delay = min(retry_cap_s, base * 2**attempts)
    session.execute(
        update(table).where(table.id == job_id, table.claimed_by == worker_id)
        .values(attempts=attempts + 1, not_before=now + dt.timedelta(seconds=delay),
                claimed_by=None, claimed_until=None, last_error=f"{exc.code}: {exc.message}"[:500])
    )  # fmt: skip
