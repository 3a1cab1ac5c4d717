"""Reorganisations that carry grants, as one service: plan, request approval, apply (docs/decisions/0701).

The plan (:func:`bridge.domain.reorg.plan_reorg`) is computed from the store's rows still scoped to the closed
unit and the official directory, and shown first. Applying it needs an approval of exactly that plan (its hash)
by two central administrators other than the requester — the approvals service, as for the safety valve's
release — and re-plans at apply time, so a plan that changed since it was approved is not applied. The moves,
one ledger row each and a summary row, are written in the caller's one transaction. The CLI (``bridge reorg``)
and the API (``/reorgs``) call these functions.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.adapters.store import ledger
from bridge.adapters.store.lock_models import LockDecision
from bridge.adapters.store.models import Administrator, ApprovalRequest, Grant
from bridge.domain.policy import Action, Actor, ApprovalKind, Decision, Target
from bridge.domain.reorg import Held, ReorgPlan, plan_reorg
from bridge.domain.sync.safety import reorg_reasons
from bridge.errors import Conflict, InvalidInput
from bridge.services import approvals
from bridge.services.context import GovContext, Refused
from bridge.services.locks.decisions import OPEN_STATUSES
from bridge.settings import SyncSettings

KIND = ApprovalKind.REORGANISATION.value
APPROVALS_NEEDED = 2


@dataclass(frozen=True)
class ShownPlan:
    """A plan as shown: its moves, its hash, what the safety valve says, its approval request if any."""

    plan: ReorgPlan
    plan_hash: str
    valve: tuple[str, ...]
    approval: ApprovalRequest | None = None


def _central(ctx: GovContext, actor: Actor, closed: str) -> Decision:
    """Only central (IT Center) administrators plan, request and apply a reorganisation (R15)."""
    target = Target(approval_kind=ApprovalKind.REORGANISATION)
    decision = ctx.decide(actor, Action.APPROVE, target)
    if not decision.allowed:
        raise Refused(f"{decision.reason} ({decision.rule})", rule=decision.rule, target=f"unit:{closed}")
    return decision


def _held(session: Session, closed: str) -> list[Held]:
    grants = session.scalars(select(Grant).where(Grant.unit_code == closed, Grant.revoked_at.is_(None))).all()
    locks = session.scalars(
        select(LockDecision).where(LockDecision.unit_code == closed, LockDecision.status.in_(OPEN_STATUSES))
    ).all()
    admins = session.scalars(select(Administrator).where(Administrator.unit_code == closed)).all()
    return [
        *(Held("grant", str(g.id), g.email, g.unit_code) for g in grants),
        *(Held("lock", str(d.id), d.email, d.unit_code) for d in locks),
        *(Held("administrator", a.email, a.email, a.unit_code) for a in admins),
    ]


def show_plan(session: Session, *, ctx: GovContext, actor: Actor, closed: str, limits: SyncSettings) -> ShownPlan:
    """The plan of ``closed`` on the context's day, with its hash, the valve's reasons and any open request."""
    _central(ctx, actor, closed)
    held = _held(session, closed)
    found = {row.email: ctx.directory.find(row.email) for row in held}
    directory_unit = {email: (p.unit_code if p is not None else None) for email, p in found.items()}
    plan = plan_reorg(closed, ctx.on_date, ctx.units, held, directory_unit)
    digest = approvals.subject_hash(plan.subject())
    pending = [r for r in approvals.approvals_for(session, subject_hash=digest) if r.kind == KIND]
    return ShownPlan(plan, digest, tuple(reorg_reasons(plan.by_unit, limits)), pending[-1] if pending else None)


def request_reorg(session: Session, *, ctx: GovContext, actor: Actor, closed: str, limits: SyncSettings) -> ShownPlan:
    """Record the plan and ask two central administrators to approve it (once per plan hash)."""
    shown = show_plan(session, ctx=ctx, actor=actor, closed=closed, limits=limits)
    plan = shown.plan
    if plan.problems:
        raise InvalidInput("kế hoạch có vấn đề, không thể đề nghị / the plan has problems: " + "; ".join(plan.problems),
                           field="unit")  # fmt: skip
    if not plan.moves:
        raise Conflict(f"đơn vị {closed}: không có gì để chuyển / nothing to move", field="unit")
    if shown.approval is not None and shown.approval.status in ("pending", "approved"):
        return shown
    request = approvals.request_approval(
        session, kind=KIND, subject=plan.subject(), requested_by=actor.email, unit_code=ctx.it_center_unit,
        required_approvals=APPROVALS_NEEDED, rule="reorg-requested",
    )  # fmt: skip
    ledger.append(
        session, actor=actor.email, action="reorg.plan", target=f"unit:{closed}", outcome="allowed",
        rule="reorg-requested",
        detail={"plan_hash": shown.plan_hash, "approval_id": request.id, "moves": len(plan.moves),
                "by_unit": plan.by_unit, "successors": list(plan.successors), "valve": list(shown.valve)},
    )  # fmt: skip
    return ShownPlan(plan, shown.plan_hash, shown.valve, request)


def apply_reorg(session: Session, *, ctx: GovContext, actor: Actor, closed: str, limits: SyncSettings) -> ShownPlan:
    """Apply the plan of ``closed`` if two central administrators approved exactly it; ledgered per move."""
    decision = _central(ctx, actor, closed)
    shown = show_plan(session, ctx=ctx, actor=actor, closed=closed, limits=limits)
    plan = shown.plan
    if plan.problems:
        raise InvalidInput("; ".join(plan.problems), field="unit")
    if not approvals.is_approved(session, kind=KIND, subject=plan.subject()):
        raise Conflict(f"kế hoạch {shown.plan_hash[:12]} chưa được hai người phê duyệt / plan not approved by two "
                       "persons (or it changed since it was approved)", field="plan_hash")  # fmt: skip
    for move in plan.moves:
        row: Grant | LockDecision | Administrator | None
        if move.kind == "administrator":
            row = session.get(Administrator, move.key)
        elif move.kind == "lock":
            row = session.get(LockDecision, int(move.key))
        else:
            row = session.get(Grant, int(move.key))
        if row is None or row.unit_code != move.from_unit:
            raise Conflict(f"{move.kind} {move.key} changed while the reorganisation was applied; retry", field="unit")
        row.unit_code = move.to_unit
        ledger.append(
            session, actor=actor.email, action=f"reorg.move_{move.kind}", target=f"person:{move.email}",
            outcome="allowed", rule=decision.rule, detail={**move.as_dict(), "plan_hash": shown.plan_hash},
        )  # fmt: skip
    ledger.append(
        session, actor=actor.email, action="reorg.apply", target=f"unit:{closed}", outcome="allowed",
        rule=decision.rule,
        detail={"plan_hash": shown.plan_hash, "moves": len(plan.moves), "by_unit": plan.by_unit,
                "successors": list(plan.successors), "approval_id": shown.approval.id if shown.approval else None},
    )  # fmt: skip
    session.flush()
    return shown
