"""Data-extraction requests as services (yêu cầu khai thác dữ liệu, Công văn 907/BHXH-CNTT).

A unit's administrator files a complete request; its leadership approves, then BHXH Việt Nam's leadership; only
then is it in the IT Center's queue, where the IT Center records the delivery (who, when, the SHA-256 of the
file, the channel) or a refusal with its reason; the recipient confirms deletion by the retention date. Every
step is scope-checked by the one policy (rules X1–X4), checked against the request's state (X5, X6) and
written with one ledger row in the caller's transaction; a refusal is written by the interface's refusal trace
(``Refused`` carries the rule). The two approvals go through the one approvals mechanism (two approvals, four
eyes, the subject hash fixing what was approved). API routes and CLI commands call these functions.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.adapters.store import ledger
from bridge.adapters.store.extraction_models import ExtractionRequest
from bridge.domain.extraction import (
    DeletionState,
    ExtractionDraft,
    ExtractionStatus,
    Step,
    after_approval,
    approval_stage,
    check_channel,
    check_draft,
    check_sha256,
    check_step,
    deletion_state,
)
from bridge.domain.policy import Action, Actor, ApprovalKind, Decision, Target
from bridge.domain.rules import Rule
from bridge.domain.rules import reason as reason_of
from bridge.errors import InvalidInput
from bridge.services import approvals
from bridge.services.context import GovContext, Refused, not_found, require, require_role

KIND = ApprovalKind.DATA_EXTRACTION.value


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def subject_of(draft: ExtractionDraft) -> dict[str, Any]:
    """What the two approvers approve: the whole request, as canonical JSON values."""
    data = dataclasses.asdict(draft)
    return {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in data.items()}


def _detail(row: ExtractionRequest, **more: Any) -> dict[str, Any]:
    return {"extraction_id": row.id, "unit": row.unit_code, "status": row.status,
            "letter_number": row.letter_number, "retention_until": row.retention_until.isoformat(), **more}  # fmt: skip


def file_request(session: Session, *, ctx: GovContext, actor: Actor, draft: ExtractionDraft) -> ExtractionRequest:
    """Record a complete request of the actor's unit (or one in their scope); it waits for two approvals."""
    target_name = f"unit:{draft.unit_code}"
    require_role(ctx, actor, Action.REQUEST_EXTRACTION, target=target_name)
    target = Target(unit_code=draft.unit_code)
    decision = ctx.decide(actor, Action.REQUEST_EXTRACTION, target)
    visible = ctx.decide(actor, Action.VIEW, target).allowed
    require(decision, target=target_name, visible=visible, kind="unit", key=draft.unit_code, field="unit_code")
    checked = check_draft(draft, today=ctx.on_date)
    subject = subject_of(checked)
    approval = approvals.request_approval(
        session, kind=KIND, subject=subject, requested_by=actor.email, unit_code=checked.unit_code,
        required_approvals=2, rule=decision.rule,
    )  # fmt: skip
    row = ExtractionRequest(
        unit_code=checked.unit_code, requested_by=actor.email, requested_at=_now(),
        letter_number=checked.letter_number, letter_date=checked.letter_date, purpose=checked.purpose,
        data_scope=subject["data_scope"], period_from=checked.period_from, period_to=checked.period_to,
        format=checked.format, recipients=list(checked.recipients), legal_basis=checked.legal_basis,
        retention_until=checked.retention_until, status=ExtractionStatus.PENDING_UNIT.value,
        approval_id=approval.id,
    )  # fmt: skip
    session.add(row)
    session.flush()
    ledger.append(session, actor=actor.email, action="extraction.request", target=f"extraction:{row.id}",
                  outcome="allowed", rule=decision.rule,
                  detail=_detail(row, approval_id=approval.id, subject_hash=approval.subject_hash))  # fmt: skip
    return row


def get_request(session: Session, *, ctx: GovContext, actor: Actor, extraction_id: int) -> ExtractionRequest:
    """A request the actor may see (its unit in their scope, or the IT Center); missing and hidden answer 404."""
    row = session.get(ExtractionRequest, extraction_id)
    if row is None:
        raise not_found("extraction", extraction_id, rule=Rule.X0_UNKNOWN_EXTRACTION, field="extraction_id")
    visible = ctx.decide(actor, Action.VIEW, Target(unit_code=row.unit_code)).allowed or (
        _unit_leader(ctx, actor, row) or ctx.decide(actor, Action.PROCESS_EXTRACTION, Target()).allowed
    )
    if not visible:
        raise not_found("extraction", extraction_id, rule=Rule.R5_PROVINCE_OUT_OF_SCOPE, field="extraction_id")
    return row


def _unit_leader(ctx: GovContext, actor: Actor, row: ExtractionRequest) -> bool:
    target = Target(approval_kind=ApprovalKind.DATA_EXTRACTION, approval_stage="unit", unit_code=row.unit_code)
    return ctx.decide(actor, Action.APPROVE, target).allowed


def _at_step(row: ExtractionRequest, step: Step) -> None:
    check = check_step(ExtractionStatus(row.status), step)
    if not check.allowed:
        assert check.rule is not None
        raise Refused(f"{check.reason} ({check.rule})", rule=check.rule, target=f"extraction:{row.id}",
                      field="extraction_id")  # fmt: skip


def approve_request(
    session: Session, *, ctx: GovContext, actor: Actor, extraction_id: int, approve: bool
) -> ExtractionRequest:
    """The decision of the leadership the request waits for: its unit's first, then Lãnh đạo Ngành's."""
    row = get_request(session, ctx=ctx, actor=actor, extraction_id=extraction_id)
    status = ExtractionStatus(row.status)
    stage = approval_stage(status)
    if stage is None:
        _at_step(row, Step.APPROVE_UNIT)
    step = Step.APPROVE_CENTRAL if stage == "central" else Step.APPROVE_UNIT
    target = Target(approval_kind=ApprovalKind.DATA_EXTRACTION, approval_stage=stage or "unit",
                    unit_code=row.unit_code, requested_by=row.requested_by)  # fmt: skip
    decision = ctx.decide(actor, Action.APPROVE, target)
    require(decision, target=f"extraction:{row.id}", visible=True, kind="extraction", key=row.id,
            field="extraction_id")  # fmt: skip
    _at_step(row, step)
    approvals.decide_approval(session, approval_id=row.approval_id, approver=actor.email, approve=approve,
                              rule=decision.rule)  # fmt: skip
    now = _now()
    if step is Step.APPROVE_UNIT:
        row.unit_approved_by, row.unit_approved_at = actor.email, now
    else:
        row.central_approved_by, row.central_approved_at = actor.email, now
    row.status = after_approval(status, approve=approve).value
    if row.status == ExtractionStatus.QUEUED and not approvals.is_approved(
        session, kind=KIND, subject=_subject_of_row(session, row), approval_id=row.approval_id
    ):
        raise InvalidInput("the approved subject no longer matches the request", field="extraction_id")
    ledger.append(session, actor=actor.email, action="extraction.approve" if approve else "extraction.reject",
                  target=f"extraction:{row.id}", outcome="allowed", rule=decision.rule,
                  detail=_detail(row, stage=stage))  # fmt: skip
    return row


def _subject_of_row(session: Session, row: ExtractionRequest) -> dict[str, Any]:
    request = approvals.get_approval(session, approval_id=row.approval_id)
    return dict(request.subject)


def _processor(ctx: GovContext, actor: Actor, row: ExtractionRequest, step: Step) -> Decision:
    require_role(ctx, actor, Action.PROCESS_EXTRACTION, target=f"extraction:{row.id}")
    decision = ctx.decide(actor, Action.PROCESS_EXTRACTION, Target(unit_code=row.unit_code))
    require(decision, target=f"extraction:{row.id}", visible=True, kind="extraction", key=row.id,
            field="extraction_id")  # fmt: skip
    _at_step(row, step)
    return decision


def fulfil_request(
    session: Session, *, ctx: GovContext, actor: Actor, extraction_id: int, file_sha256: str, channel: str,
    delivered_at: dt.datetime | None = None,
) -> ExtractionRequest:  # fmt: skip
    """The IT Center records what it delivered: the SHA-256 of the file, the channel, who and when."""
    row = get_request(session, ctx=ctx, actor=actor, extraction_id=extraction_id)
    decision = _processor(ctx, actor, row, Step.FULFIL)
    digest, how = check_sha256(file_sha256), check_channel(channel)
    if not approvals.is_approved(session, kind=KIND, subject=_subject_of_row(session, row),
                                 approval_id=row.approval_id):  # fmt: skip
        raise Refused(f"{reason_of(Rule.X5_NOT_APPROVED_YET)} ({Rule.X5_NOT_APPROVED_YET})",
                      rule=Rule.X5_NOT_APPROVED_YET, target=f"extraction:{row.id}")  # fmt: skip
    row.status = ExtractionStatus.FULFILLED.value
    row.processed_by, row.processed_at = actor.email, delivered_at or _now()
    row.delivered_sha256, row.channel = digest, how
    ledger.append(session, actor=actor.email, action="extraction.fulfil", target=f"extraction:{row.id}",
                  outcome="allowed", rule=decision.rule,
                  detail=_detail(row, file_sha256=digest, channel=how))  # fmt: skip
    return row


def refuse_request(
    session: Session, *, ctx: GovContext, actor: Actor, extraction_id: int, reason: str
) -> ExtractionRequest:
    """The IT Center refuses an approved request, with its reason."""
    row = get_request(session, ctx=ctx, actor=actor, extraction_id=extraction_id)
    decision = _processor(ctx, actor, row, Step.REFUSE)
    text = " ".join(reason.split())
    if not text:
        raise InvalidInput("cần lý do từ chối / the refusal needs a reason", field="reason")
    row.status = ExtractionStatus.REFUSED.value
    row.processed_by, row.processed_at, row.refusal_reason = actor.email, _now(), text
    ledger.append(session, actor=actor.email, action="extraction.refuse", target=f"extraction:{row.id}",
                  outcome="allowed", rule=decision.rule, detail=_detail(row, reason=text))  # fmt: skip
    return row


def confirm_deletion(
    session: Session, *, ctx: GovContext, actor: Actor, extraction_id: int, note: str = ""
) -> ExtractionRequest:
    """The requesting unit's administrator confirms the delivered data was deleted (xác nhận hủy dữ liệu)."""
    row = get_request(session, ctx=ctx, actor=actor, extraction_id=extraction_id)
    require_role(ctx, actor, Action.REQUEST_EXTRACTION, target=f"extraction:{row.id}")
    decision = ctx.decide(actor, Action.REQUEST_EXTRACTION, Target(unit_code=row.unit_code))
    require(decision, target=f"extraction:{row.id}", visible=True, kind="extraction", key=row.id,
            field="extraction_id")  # fmt: skip
    _at_step(row, Step.CONFIRM_DELETION)
    if row.deletion_confirmed_at is not None:
        raise Refused("đã xác nhận hủy / deletion already confirmed (X6-wrong-state)", rule=Rule.X6_WRONG_STATE,
                      target=f"extraction:{row.id}", field="extraction_id")  # fmt: skip
    late = ctx.on_date > row.retention_until
    row.deletion_confirmed_by, row.deletion_confirmed_at = actor.email, _now()
    row.deletion_note = " ".join(note.split()) or None
    ledger.append(session, actor=actor.email, action="extraction.deletion_confirmed", target=f"extraction:{row.id}",
                  outcome="allowed", rule=decision.rule, detail=_detail(row, late=late))  # fmt: skip
    return row


def list_requests(
    session: Session, *, ctx: GovContext, actor: Actor, status: str | None = None, limit: int = 100, offset: int = 0
) -> Sequence[ExtractionRequest]:
    """Requests the actor may see, newest first: their units' (province), all (central readers, IT Center)."""
    if actor.role is None:
        return []
    query = select(ExtractionRequest)
    scope = ctx.units_in_scope(actor)
    if scope is not None:
        query = query.where(ExtractionRequest.unit_code.in_(sorted(scope)))
    if status is not None:
        if status not in set(ExtractionStatus):
            raise InvalidInput(f"unknown status {status!r}, one of {sorted(ExtractionStatus)}", field="status")
        query = query.where(ExtractionRequest.status == status)
    return session.scalars(query.order_by(ExtractionRequest.id.desc()).limit(limit).offset(offset)).all()


def it_center_queue(session: Session, *, ctx: GovContext, actor: Actor) -> Sequence[ExtractionRequest]:
    """The IT Center's queue: requests with both approvals, oldest first (IT Center administrators only)."""
    require_role(ctx, actor, Action.PROCESS_EXTRACTION, target="extraction-queue")
    require(ctx.decide(actor, Action.PROCESS_EXTRACTION, Target()), target="extraction-queue", visible=True,
            kind="queue", key="extraction", field="actor")  # fmt: skip
    query = select(ExtractionRequest).where(ExtractionRequest.status == ExtractionStatus.QUEUED.value)
    return session.scalars(query.order_by(ExtractionRequest.id)).all()


def deletions(
    session: Session, *, ctx: GovContext, actor: Actor, overdue_only: bool = False, warn_days: int = 30
) -> list[tuple[ExtractionRequest, DeletionState]]:
    """Delivered requests whose deletion confirmation is due (within ``warn_days``) or overdue, oldest first."""
    found: list[tuple[ExtractionRequest, DeletionState]] = []
    query = select(ExtractionRequest).where(ExtractionRequest.status == ExtractionStatus.FULFILLED.value,
                                            ExtractionRequest.deletion_confirmed_at.is_(None))  # fmt: skip
    scope = ctx.units_in_scope(actor) if actor.role is not None else frozenset()
    if scope is not None:
        query = query.where(ExtractionRequest.unit_code.in_(sorted(scope)))
    for row in session.scalars(query.order_by(ExtractionRequest.retention_until, ExtractionRequest.id)):
        state = deletion_state(status=ExtractionStatus(row.status), retention_until=row.retention_until,
                               confirmed=False, today=ctx.on_date, warn_days=warn_days)  # fmt: skip
        if state is DeletionState.OVERDUE or (state is DeletionState.DUE and not overdue_only):
            found.append((row, state))
    return found


def request_of_approval(session: Session, *, approval_id: int) -> ExtractionRequest | None:
    """The extraction request a data-extraction approval belongs to."""
    query = select(ExtractionRequest).where(ExtractionRequest.approval_id == approval_id)
    return session.scalars(query).first()
