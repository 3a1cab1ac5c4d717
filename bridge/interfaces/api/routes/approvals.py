"""Exception requests (a grant, or an outsider's account until a date) and the two-person decisions on them."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter

from bridge.adapters.store.models import ApprovalRequest
from bridge.interfaces.api.deps import ActorDep, ContextDep, SessionDep
from bridge.interfaces.api.schemas import ApprovalPublic, DecisionCreate, ExceptionAccountCreate, ExceptionCreate, RowId
from bridge.services import approvals_in_scope, exception_accounts, grants

router = APIRouter(prefix="/approvals", tags=["approvals"])


@router.get("", response_model=list[ApprovalPublic])
def list_approvals(
    session: SessionDep, ctx: ContextDep, actor: ActorDep, status: str | None = None
) -> Sequence[ApprovalRequest]:
    """Approval requests in my scope and my own, newest first."""
    return approvals_in_scope.list_visible_approvals(session, ctx=ctx, actor=actor, status=status)


@router.post("/exceptions", response_model=ApprovalPublic, status_code=201)
def request_exception(session: SessionDep, ctx: ContextDep, actor: ActorDep, body: ExceptionCreate) -> ApprovalRequest:
    """Ask leadership for an exception: a grant to a person who is not eligible."""
    return grants.request_exception(session, ctx=ctx, actor=actor, **body.model_dump())


@router.post("/exception-accounts", response_model=ApprovalPublic, status_code=201)
def request_exception_account(
    session: SessionDep, ctx: ContextDep, actor: ActorDep, body: ExceptionAccountCreate
) -> ApprovalRequest:
    """Ask leadership for an account of a person outside the directory; approved, the worker creates it and
    Keycloak e-mails the person a link to set the password; it is disabled on ``end_date``."""
    return exception_accounts.request_exception_account(session, ctx=ctx, actor=actor, **body.model_dump())


@router.get("/{approval_id}", response_model=ApprovalPublic)
def get_approval(session: SessionDep, ctx: ContextDep, actor: ActorDep, approval_id: RowId) -> ApprovalRequest:
    """One approval request (404 when missing or outside my scope)."""
    return approvals_in_scope.get_visible_approval(session, ctx=ctx, actor=actor, approval_id=approval_id)


@router.post("/{approval_id}/decisions", response_model=ApprovalPublic)
def decide_approval(
    session: SessionDep, ctx: ContextDep, actor: ActorDep, approval_id: RowId, body: DecisionCreate
) -> ApprovalRequest:
    """Approve or reject (requester ≠ approver; the role the policy names for the kind)."""
    return approvals_in_scope.decide_in_scope(
        session, ctx=ctx, actor=actor, approval_id=approval_id, approve=body.approve
    )
