"""Tổng quan: counts over the logged-in administrator's scope."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from bridge.interfaces.api.deps import ContextDep, SessionDep
from bridge.interfaces.web.deps import AdminDep
from bridge.interfaces.web.render import render
from bridge.interfaces.web.routes.reports import STATUS
from bridge.services.ui_views import overview as read_overview
from bridge.services.ui_views import report_deadlines

router = APIRouter()


@router.get("/", name="overview")
def overview(request: Request, session: SessionDep, ctx: ContextDep, actor: AdminDep) -> HTMLResponse:
    """People, enabled and locked counts, locks waiting, approvals waiting for me, report deadlines."""
    return render(request, "overview.html", active="overview", actor=actor,
                  view=read_overview(session, ctx=ctx, actor=actor),
                  deadlines=report_deadlines(session, ctx=ctx, actor=actor), status_label=STATUS)  # fmt: skip
