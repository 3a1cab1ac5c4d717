"""Reorganisations over HTTP (sắp xếp tổ chức): show the plan of a closed unit, ask for its approval, apply it.

Approving is the ordinary ``POST /approvals/{id}`` of two central administrators; every route calls
:mod:`bridge.services.reorg`, as ``bridge reorg`` does (docs/decisions/0701).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from bridge.interfaces.api.deps import ActorDep, ContextDep, SessionDep
from bridge.services import reorg
from bridge.settings import get_settings

router = APIRouter(prefix="/reorgs", tags=["reorganisations"])


def _body(shown: reorg.ShownPlan) -> dict[str, Any]:
    plan = shown.plan
    return {
        "closed": plan.closed, "day": plan.day.isoformat(), "successors": list(plan.successors),
        "split": plan.split, "plan_hash": shown.plan_hash, "moves": [m.as_dict() for m in plan.moves],
        "by_unit": plan.by_unit, "problems": list(plan.problems), "valve": list(shown.valve),
        "approval": None if shown.approval is None else
        {"id": shown.approval.id, "status": shown.approval.status},
    }  # fmt: skip


@router.get("/{unit_code}/plan")
def show_plan(session: SessionDep, ctx: ContextDep, actor: ActorDep, unit_code: str) -> dict[str, Any]:
    """The moves that would carry the closed unit's grants, open locks and administrators to its successor(s)."""
    return _body(reorg.show_plan(session, ctx=ctx, actor=actor, closed=unit_code, limits=get_settings().sync))


@router.post("/{unit_code}/request", status_code=201)
def request_reorg(session: SessionDep, ctx: ContextDep, actor: ActorDep, unit_code: str) -> dict[str, Any]:
    """Record the plan and open its approval (two central administrators other than me)."""
    return _body(reorg.request_reorg(session, ctx=ctx, actor=actor, closed=unit_code, limits=get_settings().sync))


@router.post("/{unit_code}/apply")
def apply_reorg(session: SessionDep, ctx: ContextDep, actor: ActorDep, unit_code: str) -> dict[str, Any]:
    """Apply the approved plan (the same plan, re-computed now) in one transaction."""
    return _body(reorg.apply_reorg(session, ctx=ctx, actor=actor, closed=unit_code, limits=get_settings().sync))
