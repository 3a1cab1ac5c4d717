"""The audit trail and the explanation of decisions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from bridge.adapters.store.models import LedgerEntry
from bridge.domain.policy import Action
from bridge.interfaces.api.deps import ActorDep, ContextDep, SessionDep
from bridge.interfaces.api.schemas import MAX_ROW_ID, ExplainPublic, LedgerRowPublic, VerificationPublic
from bridge.services import audit

router = APIRouter(tags=["audit"])


@router.get("/explain", response_model=ExplainPublic)
def explain(
    session: SessionDep,
    ctx: ContextDep,
    actor: ActorDep,
    action: Action,
    email: str,
    application: str | None = None,
    role_group: str | None = None,
    as_actor: Annotated[str | None, Query(alias="actor")] = None,
) -> ExplainPublic:
    """Which rule decides ``action`` on ``email`` — for me, or (audit readers) for another actor."""
    decision = audit.explain_as_caller(
        session, ctx=ctx, caller=actor, actor_email=as_actor, action=action, email=email,
        application=application, role_group=role_group,
    )  # fmt: skip
    return ExplainPublic(
        actor=as_actor or actor.email, action=action.value, email=email, allowed=decision.allowed,
        rule=decision.rule, reason=decision.reason,
    )  # fmt: skip


@router.get("/audit/ledger", response_model=list[LedgerRowPublic])
def query_ledger(
    session: SessionDep,
    ctx: ContextDep,
    actor: ActorDep,
    target: str | None = None,
    who: str | None = None,
    outcome: Literal["allowed", "refused"] | None = None,
    after_id: Annotated[int, Query(ge=0, le=MAX_ROW_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Sequence[LedgerEntry]:
    """Ledger rows, oldest first (IT Center, leadership, auditors)."""
    return audit.query_ledger(
        session, ctx=ctx, actor=actor, target=target, who=who, outcome=outcome, after_id=after_id, limit=limit
    )


@router.get("/audit/verify", response_model=VerificationPublic)
def verify_ledger(session: SessionDep, ctx: ContextDep, actor: ActorDep) -> VerificationPublic:
    """Check the whole hash chain and name the first broken row."""
    result = audit.verify_ledger(session, ctx=ctx, actor=actor)
    broken = result.broken
    return VerificationPublic(
        rows=result.rows, head=result.head, intact=broken is None,
        broken_id=broken.id if broken else None, problem=broken.problem if broken else None,
    )  # fmt: skip
