"""Releasing the safety valve (van an toàn): the two-person approval of a halted plan, by its hash.

The valve's judgement itself is pure and lives in :mod:`bridge.domain.sync.safety`.

A directory that suddenly lacks half its people is far more likely broken than half the staff gone. A run
whose leaver disables exceed the configured count or share of everyone managed, or the configured share of one
unit, is ``halted`` and its plan shown. Only two distinct central administrators (IT Center) approving the
plan's hash release it, through the same two-person approvals the governance core uses; a changed plan has a
new hash and needs a new release. An empty, partial or failed directory read plans no leavers at all (see
:func:`bridge.domain.sync.planner.plan`), so it can never disable anyone.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bridge.adapters.store import ledger
from bridge.adapters.store.models import ApprovalRequest
from bridge.domain.policy import Action, ApprovalKind, Target, decide
from bridge.domain.sync.planner import Operation
from bridge.domain.sync.safety import Verdict, check
from bridge.domain.units import UnitTree
from bridge.errors import BridgeError, NotFound
from bridge.services import approvals
from bridge.services.audit import record_refusal
from bridge.services.context import load_actor

#: The requester recorded on valve releases: the engine itself, so no administrator approves their own run.
SYNC_ACTOR = "bridge-sync"
__all__ = ["Verdict", "approve_release", "check", "is_released", "plan_hash", "request_release", "valve_subject"]
APPROVALS_NEEDED = 2


def plan_hash(ops: list[Operation]) -> str:
    """sha256 of the plan's canonical JSON: what two administrators approve."""
    return ledger.sha256_hex([op.key() for op in ops])


def valve_subject(digest: str, realm: str) -> dict[str, Any]:
    """The approval subject of a valve release."""
    return {"kind": "sync-plan", "plan_hash": digest, "realm": realm}


def is_released(session: Session, *, digest: str, realm: str) -> bool:
    """True when two distinct central administrators approved exactly this plan."""
    return approvals.is_approved(session, kind=ApprovalKind.SAFETY_VALVE.value, subject=valve_subject(digest, realm))


def request_release(
    session: Session, *, digest: str, realm: str, verdict: Verdict, it_center_unit: str
) -> ApprovalRequest:
    """The pending release request of this plan (created once per plan hash), filed with the IT Center."""
    subject = valve_subject(digest, realm)
    for existing in approvals.approvals_for(session, subject_hash=approvals.subject_hash(subject)):
        if existing.kind == ApprovalKind.SAFETY_VALVE.value and existing.status == "pending":
            return existing
    request = approvals.request_approval(
        session,
        kind=ApprovalKind.SAFETY_VALVE.value,
        subject=subject,
        requested_by=SYNC_ACTOR,
        unit_code=it_center_unit,
        required_approvals=APPROVALS_NEEDED,
        rule="sync-valve-halted",
    )
    ledger.append(
        session,
        actor=SYNC_ACTOR,
        action="sync.halted",
        target=f"plan:{digest}",
        outcome="refused",
        rule="sync-valve-halted",
        detail={"reasons": list(verdict.reasons), "disables": verdict.disables},
    )
    return request


def approve_release(
    session: Session,
    *,
    digest: str,
    realm: str,
    approver: str,
    units: UnitTree,
    day: dt.date,
    it_center_unit: str,
) -> ApprovalRequest:
    """One central administrator approves the release of the plan with hash ``digest``."""
    subject = valve_subject(digest, realm)
    pending = [
        r
        for r in approvals.approvals_for(session, subject_hash=approvals.subject_hash(subject))
        if r.kind == ApprovalKind.SAFETY_VALVE.value and r.status == "pending"
    ]
    if not pending:
        raise NotFound(f"no halted plan {digest} waiting for release in realm {realm}", field="plan_hash")
    request = pending[-1]
    actor = load_actor(session, email=approver)
    target = Target(approval_kind=ApprovalKind.SAFETY_VALVE, requested_by=request.requested_by)
    decision = decide(actor, Action.APPROVE, target, day, units, it_center_unit=it_center_unit)
    if not decision.allowed:
        raise ValveRefused(f"{decision.reason} ({decision.rule})", rule=decision.rule, target=f"plan:{digest}")
    return approvals.decide_approval(
        session, approval_id=request.id, approver=approver, approve=True, rule=decision.rule
    )


class ValveRefused(BridgeError):
    """An approver who may not release the valve (not a central administrator)."""

    status = 403
    code = "forbidden"

    def __init__(self, message: str, *, rule: str, target: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.target = target


def record_valve_refusal(factory: sessionmaker[Session], *, exc: ValveRefused, approver: str) -> None:
    """Write the refused release attempt to the ledger (in its own transaction, after the rollback)."""
    record_refusal(
        factory,
        actor=approver,
        action="approval.approve",
        target=exc.target,
        rule=exc.rule,
        detail={"reason": exc.message},
    )
