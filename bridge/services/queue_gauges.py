"""How much work waits in the job queues, and how long the oldest has waited: the worker's backlog gauges."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bridge.adapters.store.job_columns import PENDING
from bridge.adapters.store.lock_models import LockJob
from bridge.adapters.store.models import GrantJob
from bridge.clock import VN_TZ, today_vn
from bridge.metrics import QUEUE_AGE, QUEUE_DEPTH


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def refresh_queue_gauges(factory: sessionmaker[Session], *, now: dt.datetime) -> dict[str, tuple[int, float]]:
    """Set the depth and oldest age of the due lock jobs and grant jobs; returns them by queue."""
    today = today_vn(now)
    with factory() as session:
        locks, oldest_day = session.execute(
            select(func.count(), func.min(LockJob.due_date)).where(LockJob.state == PENDING, LockJob.due_date <= today)
        ).one()
        grants, oldest_grant = session.execute(
            select(func.count(), func.min(GrantJob.created_at)).where(GrantJob.state == PENDING)
        ).one()
    lock_age = 0.0
    if oldest_day is not None:
        lock_age = (now - dt.datetime.combine(oldest_day, dt.time(), tzinfo=VN_TZ)).total_seconds()
    grant_age = (now - _aware(oldest_grant)).total_seconds() if oldest_grant is not None else 0.0
    found = {"lock": (int(locks), max(lock_age, 0.0)), "grant": (int(grants), max(grant_age, 0.0))}
    for queue, (depth, age) in found.items():
        QUEUE_DEPTH.labels(queue).set(depth)
        QUEUE_AGE.labels(queue).set(age)
    return found
