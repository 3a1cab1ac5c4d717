"""Phê duyệt: the approvals inbox — valve releases, eligibility exceptions, data-extraction requests.

Each request shows exactly what it approves (:mod:`bridge.services.approval_views`) and who decided so far;
approving or refusing goes through the same services as ``POST /approvals/{id}/decisions`` and ``bridge sync
approve``. A refusal (the four-eyes rule: the first approver approving again; a role the policy does not let
decide) is shown on the request's page in the page's language; another province's request answers 404.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bridge.errors import BridgeError
from bridge.interfaces.api.deps import ContextDep, SessionDep, WakeDep
from bridge.interfaces.api.routes.locks import wake_after_commit
from bridge.interfaces.api.schemas import RowId
from bridge.interfaces.web.deps import AdminDep, CsrfDep
from bridge.interfaces.web.forms import Line
from bridge.interfaces.web.inline import roll_back_refusal
from bridge.interfaces.web.render import render
from bridge.services import approval_views

router = APIRouter()
STATUSES = ("pending", "approved", "rejected")


@router.get("/approvals", name="approvals")
def approvals(
    request: Request,
    session: SessionDep,
    ctx: ContextDep,
    actor: AdminDep,
    status: Annotated[Line, Query(max_length=16)] = "pending",
) -> HTMLResponse:
    """Requests of my scope (pending by default), newest first."""
    views = approval_views.inbox(session, ctx=ctx, actor=actor, status=status or None)
    return render(request, "approvals.html", active="approvals", views=views, status=status, statuses=STATUSES)


def _page(request: Request, session: Any, ctx: Any, actor: Any, approval_id: int, **values: Any) -> HTMLResponse:
    view = approval_views.approval_view(session, ctx=ctx, actor=actor, approval_id=approval_id)
    status_code = int(values.pop("status", None) or 200)
    return render(request, "approval.html", status_code=status_code, active="approvals", view=view, **values)


@router.get("/approvals/{approval_id}", name="approval")
def approval(
    request: Request, session: SessionDep, ctx: ContextDep, actor: AdminDep, approval_id: RowId
) -> HTMLResponse:
    """One request of my scope and what it approves (404 else)."""
    return _page(request, session, ctx, actor, approval_id)


@router.post("/approvals/{approval_id}/decision", name="approval_decide")
def decide(
    request: Request, session: SessionDep, ctx: ContextDep, actor: AdminDep, wake: WakeDep, _csrf: CsrfDep,
    approval_id: RowId, decision: Annotated[Line, Form(pattern="^(approve|refuse)$")],
) -> Response:  # fmt: skip
    """Approve or refuse; a refusal of the rules is shown on the request's page."""
    try:
        approval_views.decide(session, ctx=ctx, actor=actor, approval_id=approval_id, approve=decision == "approve")
    except BridgeError as exc:
        if exc.status == 404:
            raise
        shown = roll_back_refusal(session, request, exc)
        return _page(request, session, ctx, actor, approval_id, **shown)
    wake_after_commit(wake, session)
    return RedirectResponse(f"/ui/approvals/{approval_id}", status_code=303)
