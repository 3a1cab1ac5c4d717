"""Phê duyệt as the console shows it: the approvals waiting in my scope and exactly what each one approves.

An approval's subject is a hash's worth of JSON; a person deciding needs to see what it means: for a sync valve
release, the halted plan's leavers by unit (from the run that halted, matched by plan hash); for an exception,
who, in which unit, which role group and why; for a data-extraction request, the request itself. Deciding goes
through the same services as the API and the CLI (:mod:`bridge.services.approvals_in_scope`,
:func:`bridge.services.sync.valve.approve_release`), so the four-eyes rule and the scope policy are not repeated
here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.adapters.store.extraction_models import ExtractionRequest
from bridge.adapters.store.models import ApprovalRequest
from bridge.adapters.store.sync_models import SyncRun
from bridge.domain.extraction import ExtractionStatus, approval_stage
from bridge.domain.policy import Action, Actor, ApprovalKind, Target
from bridge.services import approvals_in_scope, extractions
from bridge.services.context import GovContext
from bridge.services.sync import valve


@dataclass(frozen=True)
class ValvePlan:
    """The halted plan a valve release approves: why it halted and whom it would lock out, by unit."""

    plan_hash: str
    realm: str
    run_id: int | None = None
    day: dt.date | None = None
    reasons: list[str] = field(default_factory=list)
    by_unit: dict[str, int] = field(default_factory=dict)
    leavers: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class ApprovalView:
    """One approval request with its decisions so far and what it approves."""

    request: ApprovalRequest
    #: (approver, approved, when), oldest first.
    decisions: list[tuple[str, bool, dt.datetime]]
    #: The policy lets this administrator decide this kind of request (the four-eyes rule is checked on deciding).
    may_decide: bool
    #: This administrator already decided it: a second approval must come from someone else.
    decided_by_me: bool
    valve: ValvePlan | None = None
    extraction: ExtractionRequest | None = None

    @property
    def approved_count(self) -> int:
        """Approvals given so far."""
        return sum(1 for _who, ok, _at in self.decisions if ok)

    @property
    def subject(self) -> dict[str, Any]:
        """The approved subject (for exceptions: e-mail, unit, application, role group, reason)."""
        return dict(self.request.subject)


def valve_plan(session: Session, *, subject: dict[str, Any]) -> ValvePlan:
    """The plan of the latest halted run with the subject's plan hash."""
    digest, realm = str(subject.get("plan_hash", "")), str(subject.get("realm", ""))
    run = session.scalars(
        select(SyncRun).where(SyncRun.plan_hash == digest, SyncRun.status == "halted").order_by(SyncRun.id.desc())
    ).first()
    if run is None:
        return ValvePlan(digest, realm)
    report = dict(run.report or {})
    return ValvePlan(digest, realm, run.id, run.day, list(report.get("valve", [])),
                     dict(report.get("leavers_by_unit", {})), list(report.get("leavers", [])))  # fmt: skip


def _view(session: Session, ctx: GovContext, actor: Actor, request: ApprovalRequest) -> ApprovalView:
    kind = ApprovalKind(request.kind)
    decided = [(d.approver, d.approved, d.decided_at) for d in sorted(request.decisions, key=lambda d: d.decided_at)]
    target = Target(approval_kind=kind, requested_by=request.requested_by)
    extraction = extractions.request_of_approval(session, approval_id=request.id)
    if extraction is not None:  # two stages by two leaderships: the one the request waits for decides
        stage = approval_stage(ExtractionStatus(extraction.status)) or "unit"
        target = Target(approval_kind=kind, approval_stage=stage, unit_code=extraction.unit_code,
                        requested_by=extraction.requested_by)  # fmt: skip
    may = ctx.decide(actor, Action.APPROVE, target).allowed
    plan = valve_plan(session, subject=dict(request.subject)) if kind is ApprovalKind.SAFETY_VALVE else None
    return ApprovalView(request, decided, may and request.status == "pending",
                        any(a == actor.email for a, _ok, _at in decided), plan, extraction)  # fmt: skip


def inbox(
    session: Session, *, ctx: GovContext, actor: Actor, status: str | None = "pending", limit: int = 100
) -> Sequence[ApprovalView]:
    """Approval requests of my scope (and my own), newest first."""
    found = approvals_in_scope.list_visible_approvals(session, ctx=ctx, actor=actor, status=status, limit=limit)
    return [_view(session, ctx, actor, r) for r in found]


def approval_view(session: Session, *, ctx: GovContext, actor: Actor, approval_id: int) -> ApprovalView:
    """One approval request of my scope (404 when missing or outside it)."""
    request = approvals_in_scope.get_visible_approval(session, ctx=ctx, actor=actor, approval_id=approval_id)
    return _view(session, ctx, actor, request)


def decide(session: Session, *, ctx: GovContext, actor: Actor, approval_id: int, approve: bool) -> ApprovalRequest:
    """Approve or refuse, through the service the API and CLI use for this kind of request.

    A pending valve release is approved by its plan hash (:func:`valve.approve_release`, as ``bridge sync
    approve``); everything else — and a refusal — through :func:`approvals_in_scope.decide_in_scope`.
    """
    request = approvals_in_scope.get_visible_approval(session, ctx=ctx, actor=actor, approval_id=approval_id)
    subject = dict(request.subject)
    if approve and request.kind == ApprovalKind.SAFETY_VALVE.value and request.status == "pending":
        return valve.approve_release(
            session, digest=str(subject["plan_hash"]), realm=str(subject["realm"]), approver=actor.email,
            units=ctx.units, day=ctx.on_date, it_center_unit=ctx.it_center_unit,
        )  # fmt: skip
    return approvals_in_scope.decide_in_scope(session, ctx=ctx, actor=actor, approval_id=approval_id, approve=approve)
