"""A full reconcile on demand (đối soát đầy đủ theo yêu cầu): a central administrator asks through the API, and
the next sync run — the worker's, or ``bridge sync`` — is a full one.

Incremental runs trust the bridge's applied record (docs/decisions/0900); when an operator doubts it (a restore
of the store, a change made in Keycloak with the watcher stopped), the IT Center need not wait for the nightly
run. The request is a flag in ``sync_state`` that the next full run clears, with a ledger row; running the sync
itself stays the worker's job (one run at a time, under its lease).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from bridge.adapters.store import ledger
from bridge.adapters.store.sync_models import SyncState
from bridge.domain.policy import Action, Actor, ApprovalKind, Target
from bridge.services.context import GovContext, Refused

#: The ``sync_state`` key holding a pending request ("<UTC time> <e-mail>"; "" when none).
FULL_REQUESTED = "full_requested"


def request_full_run(session: Session, *, ctx: GovContext, actor: Actor, realm: str) -> str:
    """Ask for a full reconcile of ``realm`` at the next run; only central (IT Center) administrators may (the
    rule that lets them release the safety valve). Returns the stored request."""
    decision = ctx.decide(actor, Action.APPROVE, Target(approval_kind=ApprovalKind.SAFETY_VALVE))
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
