"""People in the caller's scope: directory staff and registered service-provider persons."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from bridge.interfaces.api.deps import ActorDep, CallerDep, ContextDep, PageSessionDep, SessionDep
from bridge.interfaces.api.rows import json_rows
from bridge.interfaces.api.schemas import Offset, PersonPublic, ProviderCreate
from bridge.services import persons
from bridge.services.context import load_actor

router = APIRouter(prefix="/persons", tags=["persons"])


@router.get("", response_model=list[PersonPublic])
async def list_persons(
    session: PageSessionDep,
    ctx: ContextDep,
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> Response:
    """People of the units in my scope (staff: myself)."""
    actor = load_actor(session, email=caller)  # on the event loop: no await in a page route (0107)
    return json_rows(PersonPublic, persons.list_persons(session, ctx=ctx, actor=actor, limit=limit, offset=offset))


@router.get("/{email}", response_model=PersonPublic)
def get_person(session: SessionDep, ctx: ContextDep, actor: ActorDep, email: str) -> persons.Person:
    """One person in my scope (404 when missing or outside my scope)."""
    return persons.get_person(session, ctx=ctx, actor=actor, email=email)


@router.post("/providers", response_model=PersonPublic, status_code=201)
def register_provider(session: SessionDep, ctx: ContextDep, actor: ActorDep, body: ProviderCreate) -> persons.Person:
    """Register a service-provider person (IT Center, R3)."""
    row = persons.register_provider_person(
        session,
        ctx=ctx,
        actor=actor,
        email=body.email,
        full_name=body.full_name,
        provider_unit=body.provider_unit,
    )
    return persons.Person(row.email, row.full_name, row.provider_unit, "provider", row.active)
