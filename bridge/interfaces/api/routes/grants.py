"""Grant requests, revocations and the grants in the caller's scope.

A grant or revocation commits with its membership job; the in-process scheduler is woken after the commit so
the role group reaches Keycloak at once (a separate ``bridge lock run`` worker finds it on its next poll).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from bridge.adapters.store.models import Grant
from bridge.interfaces.api.deps import ActorDep, CallerDep, ContextDep, PageSessionDep, SessionDep, WakeDep
from bridge.interfaces.api.routes.locks import wake_after_commit
from bridge.interfaces.api.rows import json_rows
from bridge.interfaces.api.schemas import GrantCreate, GrantPublic, Offset, RowId
from bridge.services import grants
from bridge.services.context import load_actor

router = APIRouter(prefix="/grants", tags=["grants"])


@router.get("", response_model=list[GrantPublic])
async def list_grants(
    session: PageSessionDep,
    ctx: ContextDep,
    caller: CallerDep,
    application: str | None = None,
    active_only: bool = True,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> Response:
    """Grants of the units in my scope (staff: my own), newest first."""
    actor = load_actor(session, email=caller)  # on the event loop: no await in a page route (0107)
    rows = grants.list_grants(
        session, ctx=ctx, actor=actor, application=application, active_only=active_only, limit=limit,
        offset=offset,
    )  # fmt: skip
    return json_rows(GrantPublic, rows)


@router.get("/{grant_id}", response_model=GrantPublic)
def get_grant(session: SessionDep, ctx: ContextDep, actor: ActorDep, grant_id: RowId) -> Grant:
    """One grant in my scope (404 when missing or outside my scope)."""
    return grants.get_grant(session, ctx=ctx, actor=actor, grant_id=grant_id)


@router.post("", response_model=GrantPublic, status_code=201)
def request_grant(session: SessionDep, ctx: ContextDep, actor: ActorDep, wake: WakeDep, body: GrantCreate) -> Grant:
    """Grant a role group of an application to a person in my scope (Phụ lục 01 row)."""
    grant = grants.request_grant(
        session, ctx=ctx, actor=actor, email=body.email, application=body.application,
        role_group=body.role_group, request_ref=body.request_ref, exception_id=body.exception_id,
    )  # fmt: skip
    wake_after_commit(wake, session)
    return grant


@router.post("/{grant_id}/revoke", response_model=GrantPublic)
def revoke_grant(session: SessionDep, ctx: ContextDep, actor: ActorDep, wake: WakeDep, grant_id: RowId) -> Grant:
    """Revoke a grant in my scope."""
    grant = grants.revoke_grant(session, ctx=ctx, actor=actor, grant_id=grant_id)
    wake_after_commit(wake, session)
    return grant
