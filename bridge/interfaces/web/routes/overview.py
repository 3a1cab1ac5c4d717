"""Tổng quan: counts over the logged-in administrator's scope, and — for the IT Center — the request for a full
reconcile at the next sync run (the same service as ``POST /sync/full-run``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from bridge.errors import BridgeError
from bridge.interfaces.api.deps import ContextDep, SessionDep
from bridge.interfaces.web.deps import AdminDep, CsrfDep
from bridge.interfaces.web.inline import roll_back_refusal
from bridge.interfaces.web.render import render
from bridge.interfaces.web.routes.reports import STATUS
from bridge.services.context import GovContext
from bridge.services.sync import full_request
from bridge.services.ui_views import overview as read_overview
from bridge.services.ui_views import report_deadlines
from bridge.settings import get_settings

router = APIRouter()


def _page(
    request: Request, session: Session, ctx: GovContext, actor: Any, *, status: int = 200, **shown: Any
) -> HTMLResponse:
    may_request = full_request.may_request(ctx, actor)
    full_run = full_request.pending(session) if may_request else None
    return render(request, "overview.html", status_code=status, active="overview", actor=actor,
                  view=read_overview(session, ctx=ctx, actor=actor),
                  deadlines=report_deadlines(session, ctx=ctx, actor=actor), status_label=STATUS,
                  may_request_full_run=may_request, full_run=full_run,
                  **shown)  # fmt: skip


@router.get("/", name="overview")
def overview(request: Request, session: SessionDep, ctx: ContextDep, actor: AdminDep) -> HTMLResponse:
    """People, enabled and locked counts, locks waiting, approvals waiting for me, report deadlines."""
    return _page(request, session, ctx, actor)


@router.post("/sync/full-run", name="full_run")
def ask_full_run(request: Request, session: SessionDep, ctx: ContextDep, actor: AdminDep, _csrf: CsrfDep) -> Response:
    """Ask for a full reconcile at the next sync run; a refusal (not the IT Center) is shown and ledgered."""
    try:
        full_request.request_full_run(session, ctx=ctx, actor=actor, realm=get_settings().keycloak.realm)
    except BridgeError as exc:
        shown = roll_back_refusal(session, request, exc)
        return _page(request, session, ctx, actor, status=shown.pop("status"), **shown)
    return RedirectResponse("/ui/#full-run", status_code=303)
