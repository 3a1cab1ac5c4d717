"""A full reconcile on demand (đối soát đầy đủ theo yêu cầu): a central administrator asks through the API, and
the next sync run — the worker's, or ``bridge sync`` — is a full one.

Incremental runs trust the bridge's applied record (docs/decisions/0900); when an operator doubts it (a restore
of the store, a change made in Keycloak with the watcher stopped), the IT Center need not wait for the nightly
run. The request is a flag in ``sync_state`` that the next full run clears, with a ledger row; running the sync
itself stays the worker's job (one run at a time, under its lease).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from bridge.adapters.store import ledger
from bridge.adapters.store.sync_models import SyncState
from bridge.domain.policy import Action, Actor, ApprovalKind, Decision, Target
from bridge.services.context import GovContext, Refused

#: The ``sync_state`` key holding a pending request ("<UTC time> <e-mail>"; "" when none).
FULL_REQUESTED = "full_requested"


@dataclass(frozen=True, slots=True)
class PendingRequest:
    """A full reconcile asked for and not yet run: when (UTC) and by whom."""

    at: dt.datetime
    email: str


def _decision(ctx: GovContext, actor: Actor) -> Decision:
    # only central (IT Center) administrators: the rule that lets them release the safety valve
    return ctx.decide(actor, Action.APPROVE, Target(approval_kind=ApprovalKind.SAFETY_VALVE))


def may_request(ctx: GovContext, actor: Actor) -> bool:
    """Whether ``actor`` may ask for a full reconcile (the console shows its button only to them)."""
    return _decision(ctx, actor).allowed


def pending(session: Session) -> PendingRequest | None:
    """The request the next full run will answer, if any."""
    value = session.get(SyncState, FULL_REQUESTED)
    if value is None or not value.value:
        return None
    at, _, email = value.value.partition(" ")
    return PendingRequest(dt.datetime.strptime(at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC), email)


def request_full_run(session: Session, *, ctx: GovContext, actor: Actor, realm: str) -> str:
    """Ask for a full reconcile of ``realm`` at the next run; only central (IT Center) administrators may.
    Returns the stored request."""
    decision = _decision(ctx, actor)
    if not decision.allowed:
        raise Refused(f"{decision.reason} ({decision.rule})", rule=decision.rule, target=f"realm:{realm}")
    now = dt.datetime.now(dt.UTC)
    value = f"{now:%Y-%m-%dT%H:%M:%SZ} {actor.email}"[:200]
    session.merge(SyncState(key=FULL_REQUESTED, value=value))
    ledger.append(
        session,
        actor=actor.email,
        action="sync.full_requested",
        target=f"realm:{realm}",
        outcome="allowed",
        rule=decision.rule,
        detail={"requested_at": now.isoformat()},
    )
    return value
