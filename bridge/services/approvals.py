"""The one two-person approval mechanism (phê duyệt): requester ≠ approver, who decided, when, and on what.

Exceptions for ineligible people, the sync's safety-valve release (two distinct central administrators on the
same plan hash) and data-extraction requests all go through here. What is approved is fixed by the sha256 of
the subject's canonical JSON: a decision records the hash the approver saw, and :func:`is_approved` recomputes
it from the subject the caller is about to act on, so a changed plan or request is not covered by an old
approval. Who may approve which kind is the scope policy's business; this module enforces only the four eyes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.adapters.directory.lookup import normalise_email
from bridge.adapters.store import ledger
from bridge.adapters.store.models import ApprovalDecision, ApprovalRequest
from bridge.errors import Conflict, Forbidden, NotFound


def subject_hash(subject: dict[str, Any]) -> str:
    """sha256 of the subject's canonical JSON."""
    return ledger.sha256_hex(subject)


def request_approval(
    session: Session,
    *,
    kind: str,
    subject: dict[str, Any],
    requested_by: str,
    unit_code: str,
    required_approvals: int = 1,
    rule: str = "approval-requested",
) -> ApprovalRequest:
    """Record a request for approval (and its ledger row) in the session's transaction."""
    request = ApprovalRequest(
        kind=kind,
        subject=subject,
        subject_hash=subject_hash(subject),
        unit_code=unit_code,
        requested_by=normalise_email(requested_by),
        requested_at=dt.datetime.now(dt.UTC),
        required_approvals=required_approvals,
        status="pending",
    )
    session.add(request)
    session.flush()
    ledger.append(
        session,
        actor=request.requested_by,
        action="approval.request",
        target=f"approval:{request.id}",
        outcome="allowed",
        rule=rule,
        detail={"kind": kind, "subject_hash": request.subject_hash, "unit": unit_code},
    )
    return request


def get_approval(session: Session, *, approval_id: int) -> ApprovalRequest:
    """The request with this id, or :class:`NotFound`."""
    request = session.get(ApprovalRequest, approval_id)
    if request is None:
        raise NotFound(f"no approval {approval_id}", field="approval_id")
    return request


def decide_approval(
    session: Session, *, approval_id: int, approver: str, approve: bool, rule: str = "approval-decided"
) -> ApprovalRequest:
    """Record one approver's decision; the requester and anyone who already decided are refused."""
    request = get_approval(session, approval_id=approval_id)
    approver = normalise_email(approver)
    if approver == request.requested_by:
        raise Forbidden(
            "Người đề nghị không được tự phê duyệt đề nghị của mình / the requester cannot approve their own "
            "request (R13-four-eyes)",
            field="approver",
        )
    if any(d.approver == approver for d in request.decisions):
        raise Conflict(
            f"{approver} đã quyết định đề nghị {approval_id}; lần phê duyệt thứ hai phải do một quản trị viên khác "
            f"thực hiện / {approver} already decided approval {approval_id}; the second approval must come from "
            "another administrator (R13-four-eyes)",
            field="approver",
        )
    if request.status != "pending":
        raise Conflict(
            f"Đề nghị {approval_id} đã được quyết định ({request.status}) / approval {approval_id} is already "
            f"{request.status}",
            field="approval_id",
        )
    decision = ApprovalDecision(
        request_id=request.id,
        approver=approver,
        approved=approve,
        subject_hash=request.subject_hash,
        decided_at=dt.datetime.now(dt.UTC),
    )
    session.add(decision)
    session.flush()
    session.refresh(request, ["decisions"])
    approvals = {d.approver for d in request.decisions if d.approved}
    if not approve:
        request.status = "rejected"
    elif len(approvals) >= request.required_approvals:
        request.status = "approved"
    ledger.append(
        session,
        actor=approver,
        action="approval.approve" if approve else "approval.reject",
        target=f"approval:{request.id}",
        outcome="allowed",
        rule=rule,
        detail={"kind": request.kind, "subject_hash": request.subject_hash, "status": request.status},
    )
    return request


def approvals_for(session: Session, *, subject_hash: str) -> Sequence[ApprovalRequest]:
    """Every request about the subject with this hash, oldest first."""
    return session.scalars(
        select(ApprovalRequest).where(ApprovalRequest.subject_hash == subject_hash).order_by(ApprovalRequest.id)
    ).all()


def is_approved(session: Session, *, kind: str, subject: dict[str, Any], approval_id: int | None = None) -> bool:
    """True when an approved request of ``kind`` covers exactly ``subject`` (optionally: that request)."""
    digest = subject_hash(subject)
    for request in approvals_for(session, subject_hash=digest):
        if request.kind != kind or request.status != "approved":
            continue
        if approval_id is not None and request.id != approval_id:
            continue
        approvers = {d.approver for d in request.decisions if d.approved and d.subject_hash == digest}
        if len(approvers) >= request.required_approvals and request.requested_by not in approvers:
            return True
    return False
