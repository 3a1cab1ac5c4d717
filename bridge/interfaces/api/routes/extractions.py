"""Data-extraction requests over HTTP (Công văn 907): file, approve (two leaderships), the IT Center's queue,
fulfil or refuse, deletion confirmations due and overdue. Routes translate HTTP to ``bridge.services.extractions``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import Field

from bridge.adapters.store.extraction_models import ExtractionRequest
from bridge.domain.extraction import ExtractionDraft, ScopeItem
from bridge.interfaces.api.deps import ActorDep, ContextDep, SessionDep
from bridge.interfaces.api.schemas import CodeField, Offset, Public, RowId, Strict
from bridge.services import extractions

router = APIRouter(prefix="/extractions", tags=["extractions"])


class ScopeItemIn(Strict):
    """One system of the data form: its tables and fields."""

    system: str = Field(min_length=1, max_length=100)
    tables: list[str] = Field(min_length=1, max_length=200)
    fields: list[str] = Field(min_length=1, max_length=1000)


class ExtractionCreate(Strict):
    """A data-extraction request: the official letter, the data form, purpose, recipients, retention."""

    unit_code: str = CodeField
    letter_number: str = Field(min_length=1, max_length=64)
    letter_date: dt.date
    purpose: str = Field(min_length=1, max_length=4000)
    data_scope: list[ScopeItemIn] = Field(min_length=1, max_length=100)
    period_from: dt.date
    period_to: dt.date
    format: str = Field(min_length=2, max_length=16)
    recipients: list[str] = Field(min_length=1, max_length=50)
    legal_basis: str = Field(min_length=1, max_length=4000)
    retention_until: dt.date

    def draft(self) -> ExtractionDraft:
        """The domain's draft of this body."""
        data = self.model_dump()
        data["data_scope"] = tuple(ScopeItem(i["system"], tuple(i["tables"]), tuple(i["fields"]))
                                   for i in data["data_scope"])  # fmt: skip
        data["recipients"] = tuple(data["recipients"])
        return ExtractionDraft(**data)


class ExtractionDecision(Strict):
    approve: bool


class Fulfilment(Strict):
    """What the IT Center delivered."""

    file_sha256: str = Field(min_length=64, max_length=64)
    channel: str = Field(min_length=2, max_length=32)
    delivered_at: dt.datetime | None = None


class Refusal(Strict):
    reason: str = Field(min_length=1, max_length=4000)


class DeletionConfirmation(Strict):
    note: str = Field(default="", max_length=4000)


class ExtractionPublic(Public):
    id: int
    unit_code: str
    requested_by: str
    requested_at: dt.datetime
    letter_number: str
    letter_date: dt.date
    purpose: str
    data_scope: list[dict[str, Any]]
    period_from: dt.date
    period_to: dt.date
    format: str
    recipients: list[str]
    legal_basis: str
    retention_until: dt.date
    status: str
    approval_id: int
    unit_approved_by: str | None
    central_approved_by: str | None
    processed_by: str | None
    processed_at: dt.datetime | None
    delivered_sha256: str | None
    channel: str | None
    refusal_reason: str | None
    deletion_confirmed_by: str | None
    deletion_confirmed_at: dt.datetime | None


class DeletionDue(Public):
    request: ExtractionPublic
    #: due | overdue
    state: str


@router.post("", response_model=ExtractionPublic, status_code=201)
def file_request(session: SessionDep, ctx: ContextDep, actor: ActorDep, body: ExtractionCreate) -> ExtractionRequest:
    """File a request of a unit in my scope; it waits for its unit's leadership, then Lãnh đạo Ngành."""
    return extractions.file_request(session, ctx=ctx, actor=actor, draft=body.draft())


@router.get("", response_model=list[ExtractionPublic])
def list_requests(
    session: SessionDep, ctx: ContextDep, actor: ActorDep, status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100, offset: Offset = 0,
) -> Sequence[ExtractionRequest]:  # fmt: skip
    """Requests of the units in my scope, newest first."""
    return extractions.list_requests(session, ctx=ctx, actor=actor, status=status, limit=limit, offset=offset)


@router.get("/queue", response_model=list[ExtractionPublic])
def it_center_queue(session: SessionDep, ctx: ContextDep, actor: ActorDep) -> Sequence[ExtractionRequest]:
    """The IT Center's queue: requests with both approvals, oldest first."""
    return extractions.it_center_queue(session, ctx=ctx, actor=actor)


@router.get("/deletions", response_model=list[DeletionDue])
def deletions(
    session: SessionDep, ctx: ContextDep, actor: ActorDep, overdue: bool = False,
    warn_days: Annotated[int, Query(ge=0, le=365)] = 30,
) -> list[DeletionDue]:  # fmt: skip
    """Deletion confirmations due (within ``warn_days``) or overdue, in my scope."""
    found = extractions.deletions(session, ctx=ctx, actor=actor, overdue_only=overdue, warn_days=warn_days)
    return [DeletionDue(request=ExtractionPublic.model_validate(row), state=state.value) for row, state in found]


@router.get("/{extraction_id}", response_model=ExtractionPublic)
def get_request(session: SessionDep, ctx: ContextDep, actor: ActorDep, extraction_id: RowId) -> ExtractionRequest:
    """One request (404 when missing or outside my scope)."""
    return extractions.get_request(session, ctx=ctx, actor=actor, extraction_id=extraction_id)


@router.post("/{extraction_id}/decisions", response_model=ExtractionPublic)
def approve(
    session: SessionDep, ctx: ContextDep, actor: ActorDep, extraction_id: RowId, body: ExtractionDecision
) -> ExtractionRequest:
    """Approve or reject, as the leadership the request waits for (its unit's, then Lãnh đạo Ngành)."""
    return extractions.approve_request(session, ctx=ctx, actor=actor, extraction_id=extraction_id,
                                       approve=body.approve)  # fmt: skip


@router.post("/{extraction_id}/fulfilment", response_model=ExtractionPublic)
def fulfil(
    session: SessionDep, ctx: ContextDep, actor: ActorDep, extraction_id: RowId, body: Fulfilment
) -> ExtractionRequest:
    """The IT Center records the delivery of an approved request."""
    return extractions.fulfil_request(session, ctx=ctx, actor=actor, extraction_id=extraction_id,
                                      file_sha256=body.file_sha256, channel=body.channel,
                                      delivered_at=body.delivered_at)  # fmt: skip


@router.post("/{extraction_id}/refusal", response_model=ExtractionPublic)
def refuse(
    session: SessionDep, ctx: ContextDep, actor: ActorDep, extraction_id: RowId, body: Refusal
) -> ExtractionRequest:
    """The IT Center refuses an approved request, with its reason."""
    return extractions.refuse_request(session, ctx=ctx, actor=actor, extraction_id=extraction_id, reason=body.reason)


@router.post("/{extraction_id}/deletion", response_model=ExtractionPublic)
def confirm_deletion(
    session: SessionDep, ctx: ContextDep, actor: ActorDep, extraction_id: RowId, body: DeletionConfirmation
) -> ExtractionRequest:
    """The requesting unit confirms the delivered data was deleted."""
    return extractions.confirm_deletion(session, ctx=ctx, actor=actor, extraction_id=extraction_id, note=body.note)
