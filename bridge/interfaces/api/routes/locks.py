"""Lock decisions over HTTP: record, read, cancel, move the return day, import a Phụ lục 01 list.

Routes only translate HTTP to the lock service; when the transaction commits, they wake the in-process scheduler
(when the application runs one) so an immediate lock does not wait for the next poll.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import event
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from bridge.adapters.store.lock_models import LockDecision
from bridge.domain.lock_reasons import LockReason, parse_reason
from bridge.interfaces.api.deps import ActorDep, ContextDep, SessionDep, Wake, WakeDep
from bridge.interfaces.api.schemas import EmailField, Offset, Public, RowId, Strict
from bridge.services.locks import decisions
from bridge.services.locks.intake import MAX_BYTES

router = APIRouter(prefix="/locks", tags=["locks"])


class LockCreate(Strict):
    """A lock decision (quyết định khóa): person, reason, decision number and date, effective and end dates."""

    email: str = EmailField
    #: Reason code (``maternity``) or its Vietnamese label (``nghỉ thai sản``).
    reason: str = Field(min_length=2, max_length=100)
    decision_number: str | None = Field(default=None, max_length=64)
    decision_date: dt.date | None = None
    #: Default: today in Asia/Ho_Chi_Minh.
    effective_date: dt.date | None = None
    #: The day the person works again (temporary reasons only).
    end_date: dt.date | None = None


class EndDateChange(Strict):
    """A new return day: earlier (early return) or later (extension)."""

    end_date: dt.date


class LockPublic(Public):
    id: int
    email: str
    unit_code: str
    reason_code: str
    decision_number: str | None
    decision_date: dt.date | None
    effective_date: dt.date
    end_date: dt.date | None
    requested_by: str
    requested_at: dt.datetime
    source: str
    status: str
    role_groups: list[str] | None
    proof: dict[str, Any] | None
    applied_at: dt.datetime | None
    ended_at: dt.datetime | None
    end_reason: str | None
    end_proof: dict[str, Any] | None


class ImportPublic(BaseModel):
    #: Rows applied: lock decisions, grants and early endings together.
    created: int
    #: Lock decisions recorded from "Khóa" rows.
    decision_ids: list[int]
    #: Grants made from "Cấp" rows.
    grant_ids: list[int] = []
    #: Lock decisions ended early by "Mở khóa" rows.
    early_ending_ids: list[int] = []


def wake_after_commit(wake: Wake | None, session: Session) -> None:
    """Wake the in-process scheduler, if any, once the request's transaction commits (the session dependency
    commits after the response is sent, so waking any earlier would find nothing to claim)."""
    if wake is not None:
        event.listen(session, "after_commit", lambda _session: wake(), once=True)


@router.post("", response_model=LockPublic, status_code=201)
def create_lock(session: SessionDep, ctx: ContextDep, actor: ActorDep, wake: WakeDep, body: LockCreate) -> LockDecision:
    """Record a lock decision for a person in my scope; it takes effect on its effective date."""
    reason: LockReason = parse_reason(body.reason)
    row = decisions.request_lock(
        session, ctx=ctx, actor=actor, email=body.email, reason=reason, decision_number=body.decision_number,
        decision_date=body.decision_date, effective_date=body.effective_date, end_date=body.end_date,
    )  # fmt: skip
    wake_after_commit(wake, session)
    return row


@router.get("", response_model=list[LockPublic])
def list_locks(
    session: SessionDep,
    ctx: ContextDep,
    actor: ActorDep,
    status: str | None = None,
    email: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> Sequence[LockDecision]:
    """Lock decisions of the units in my scope, newest first."""
    return decisions.list_locks(session, ctx=ctx, actor=actor, status=status, email=email, limit=limit, offset=offset)


@router.get("/{decision_id}", response_model=LockPublic)
def get_lock(session: SessionDep, ctx: ContextDep, actor: ActorDep, decision_id: RowId) -> LockDecision:
    """One decision in my scope, with the proof of its application."""
    return decisions.get_lock(session, ctx=ctx, actor=actor, decision_id=decision_id)


@router.post("/{decision_id}/cancel", response_model=LockPublic)
def cancel_lock(session: SessionDep, ctx: ContextDep, actor: ActorDep, decision_id: RowId) -> LockDecision:
    """Cancel a decision that has not taken effect yet."""
    return decisions.cancel_lock(session, ctx=ctx, actor=actor, decision_id=decision_id)


@router.post("/{decision_id}/end-date", response_model=LockPublic)
def change_end_date(
    session: SessionDep, ctx: ContextDep, actor: ActorDep, wake: WakeDep,
    decision_id: RowId, body: EndDateChange,
) -> LockDecision:  # fmt: skip
    """Early return (an earlier day) or extension (a later day) of a temporary lock."""
    row = decisions.change_end_date(session, ctx=ctx, actor=actor, decision_id=decision_id, end_date=body.end_date)
    wake_after_commit(wake, session)
    return row


@router.post("/import", response_model=ImportPublic, status_code=201)
async def import_locks(
    request: Request,
    session: SessionDep,
    ctx: ContextDep,
    actor: ActorDep,
    wake: WakeDep,
    filename: Annotated[str, Query(min_length=5, max_length=200)],
) -> ImportPublic:
    """Import a Phụ lục 01 list (Khóa, Cấp, Mở khóa rows) sent as the raw body (.xlsx or .csv named by
    ``filename``): every row or none."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BYTES:
            break
    data = b"".join(chunks)  # one copy of the body in memory, not two (issue 17: peak RSS under 300 MB)
    del chunks
    made = await run_in_threadpool(  # a large list takes seconds: keep the event loop free meanwhile
        decisions.import_phu_luc, session, ctx=ctx, actor=actor, data=data, filename=filename
    )
    wake_after_commit(wake, session)
    return ImportPublic(
        created=made.applied,
        decision_ids=[d.id for d in made.locks],
        grant_ids=[g.id for g in made.grants],
        early_ending_ids=[d.id for d in made.early_endings],
    )
