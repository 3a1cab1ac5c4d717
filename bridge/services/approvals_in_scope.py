"""Approvals as administrators see them: who may look at a request, and who may decide it.

The generic two-person mechanism lives in :mod:`bridge.services.approvals`; this module puts the scope
policy in front of it. A request is visible to whoever may see its unit; it is decided by the role the
policy names for its kind (leadership for exceptions and data extraction, IT Center administrators for the
safety valve). An approved exception that asks for an account opens it
(:func:`bridge.services.exception_accounts.open_account`) in the approver's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.adapters.store.models import ApprovalRequest
from bridge.domain.policy import Action, Actor, ApprovalKind, Target
from bridge.domain.rules import Rule
from bridge.services import approvals, exception_accounts
from bridge.services.context import GovContext, not_found, require


def get_visible_approval(session: Session, *, ctx: GovContext, actor: Actor, approval_id: int) -> ApprovalRequest:
    """An approval request the actor may see; missing and out-of-scope answer alike (404)."""
    request = session.get(ApprovalRequest, approval_id)
    if request is None:
        raise not_found("approval", approval_id, rule=Rule.E4_UNKNOWN_APPROVAL, field="approval_id")
    visible = (
        actor.email == request.requested_by
        or ctx.decide(actor, Action.VIEW, Target(unit_code=request.unit_code)).allowed
    )
    if not visible:
        raise not_found("approval", approval_id, rule=Rule.R5_PROVINCE_OUT_OF_SCOPE, field="approval_id")
    return request


def list_visible_approvals(
    session: Session, *, ctx: GovContext, actor: Actor, status: str | None = None, limit: int = 100
) -> Sequence[ApprovalRequest]:
    """Approval requests in the actor's scope (plus their own), newest first."""
    query = select(ApprovalRequest)
    scope = ctx.units_in_scope(actor) if actor.role is not None else frozenset()
    if scope is not None:
        query = query.where(
            ApprovalRequest.unit_code.in_(sorted(scope)) | (ApprovalRequest.requested_by == actor.email)
        )
    if status is not None:
        query = query.where(ApprovalRequest.status == status)
    return session.scalars(query.order_by(ApprovalRequest.id.desc()).limit(limit)).all()


def decide_in_scope(
    session: Session, *, ctx: GovContext, actor: Actor, approval_id: int, approve: bool
) -> ApprovalRequest:
    """Record the actor's decision when the policy lets them decide this kind of request."""
    request = get_visible_approval(session, ctx=ctx, actor=actor, approval_id=approval_id)
    if request.kind == ApprovalKind.DATA_EXTRACTION.value:
        # A data-extraction request is approved in two stages by two leaderships: its own service decides which.
        from bridge.services import extractions

        extraction = extractions.request_of_approval(session, approval_id=approval_id)
        if extraction is not None:
            extractions.approve_request(session, ctx=ctx, actor=actor, extraction_id=extraction.id, approve=approve)
            return approvals.get_approval(session, approval_id=approval_id)
    target = Target(approval_kind=ApprovalKind(request.kind), requested_by=request.requested_by)
    decision = ctx.decide(actor, Action.APPROVE, target)
    require(
        decision, target=f"approval:{approval_id}", visible=True, kind="approval", key=approval_id,
        field="approval_id",
    )  # fmt: skip
    decided = approvals.decide_approval(
        session, approval_id=approval_id, approver=actor.email, approve=approve, rule=decision.rule
    )
    # an approved exception account is created from here on (its grant, its job, its end date)
    exception_accounts.open_account(session, ctx=ctx, request=decided)
    return decided
