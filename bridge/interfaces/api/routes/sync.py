"""The sync over HTTP: a central administrator asks for a full reconcile at the next run (decision 0900).

Thin: parses nothing but the caller, calls :func:`bridge.services.sync.full_request.request_full_run`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from bridge.interfaces.api.deps import ActorDep, ContextDep, SessionDep
from bridge.services.sync.full_request import request_full_run
from bridge.settings import get_settings

router = APIRouter(prefix="/sync", tags=["sync"])


@router.post("/full-run", status_code=202)
def ask_full_run(session: SessionDep, ctx: ContextDep, actor: ActorDep) -> dict[str, Any]:
    """The next sync run lists Keycloak, trusts it and the directory, and repairs the applied record."""
    requested = request_full_run(session, ctx=ctx, actor=actor, realm=get_settings().keycloak.realm)
    return {
        "requested": requested,
        "message": "Lượt đồng bộ tiếp theo là đối soát đầy đủ / the next sync run is a full reconcile",
    }
