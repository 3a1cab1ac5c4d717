"""Cán bộ: search people in scope (by name or e-mail, diacritics ignored) and one person's page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse

from bridge.interfaces.api.deps import ContextDep, SessionDep
from bridge.interfaces.web.deps import AdminDep
from bridge.interfaces.web.forms import Line
from bridge.interfaces.web.render import render
from bridge.services.ui_views import person_file, search_people

router = APIRouter()
PAGE_SIZE = 25


@router.get("/people", name="people")
def people(
    request: Request,
    session: SessionDep,
    ctx: ContextDep,
    actor: AdminDep,
    q: Annotated[Line, Query(max_length=100)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """One page of the people in my scope that match ``q``."""
    found = search_people(session, ctx=ctx, actor=actor, query=q, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    pages = max(1, -(-found.total // PAGE_SIZE))
    return render(request, "people.html", active="people", q=q, page=page, pages=pages, found=found)


@router.get("/people/{email}", name="person")
def person(request: Request, session: SessionDep, ctx: ContextDep, actor: AdminDep,
           email: Annotated[Line, Path(max_length=254)]) -> HTMLResponse:  # fmt: skip
    """One person in my scope: unit, status, holds, role groups, grants, lock history, ledger rows (404 else)."""
    file = person_file(session, ctx=ctx, actor=actor, email=email)
    unit = ctx.units.get(file.person.unit_code, ctx.on_date)
    return render(request, "person.html", active="people", file=file, unit=unit)
