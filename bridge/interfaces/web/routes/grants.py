"""Cấp quyền: request a role group of an application for a person in my scope, list and revoke grants.

The same service as ``POST /grants`` decides (:func:`bridge.services.grants.request_grant`): eligibility, scope,
escalation (R10) and duplicates. A refusal is shown on the form, in the page's language, with the rule that
decided, and written to the ledger like the API's; the choice of role group comes from the catalogue
(``keycloak-config/applications.yaml``), one option per application and role group, so no pair outside it can
be sent from the page.

The same page asks leadership for an exception account (tài khoản ngoại lệ: a person outside the official
directory, Công văn 907) through :func:`bridge.services.exception_accounts.request_exception_account`, the
service of ``POST /approvals/exception-accounts``: scope, catalogue and eligibility are decided there, the
request lands in Phê duyệt, and nothing is created before leadership approves it (decision 0641).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bridge.domain.lock_reasons import parse_vn_date
from bridge.errors import BridgeError
from bridge.interfaces.api.deps import ContextDep, SessionDep, WakeDep
from bridge.interfaces.api.routes.locks import wake_after_commit
from bridge.interfaces.api.schemas import RowId
from bridge.interfaces.web.deps import AdminDep, CsrfDep
from bridge.interfaces.web.forms import FreeText, Line
from bridge.interfaces.web.inline import roll_back_refusal
from bridge.interfaces.web.render import render
from bridge.services import exception_accounts, grants
from bridge.services.context import GovContext

router = APIRouter()
PAGE_SIZE = 50
SEPARATOR = "/"
#: The exception account form's fields, as the service names them.
EXCEPTION_FIELDS = ("email", "full_name", "unit_code", "role_group", "end_date", "reason")


def _page(request: Request, session: Any, ctx: GovContext, actor: Any, *, page: int = 1, application: str = "",
          status_code: int = 200, **values: Any) -> HTMLResponse:  # fmt: skip
    rows = grants.list_grants(session, ctx=ctx, actor=actor, application=application or None, limit=PAGE_SIZE,
                              offset=(page - 1) * PAGE_SIZE)  # fmt: skip
    values.setdefault("email", "")
    values.setdefault("chosen", "")
    values.setdefault("x", dict.fromkeys(EXCEPTION_FIELDS, ""))
    return render(request, "grants.html", status_code=status_code, active="grants", rows=rows, page=page,
                  application=application, applications=ctx.catalogue.applications, separator=SEPARATOR,
                  **values)  # fmt: skip


@router.get("/grants", name="grants")
def grant_list(
    request: Request,
    session: SessionDep,
    ctx: ContextDep,
    actor: AdminDep,
    application: Annotated[Line, Query(max_length=32)] = "",
    email: Annotated[Line, Query(max_length=254)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """The request form and the active grants of my scope (newest first)."""
    return _page(request, session, ctx, actor, page=page, application=application, email=email)


@router.post("/grants", name="grant_create")
def create_grant(
    request: Request, session: SessionDep, ctx: ContextDep, actor: AdminDep, wake: WakeDep, _csrf: CsrfDep,
    email: Annotated[Line, Form(max_length=254)], role_group: Annotated[Line, Form(max_length=100)],
) -> Response:  # fmt: skip
    """Grant ``application/role group`` to a person in my scope; a refusal is shown on the form."""
    application, _sep, group = role_group.partition(SEPARATOR)
    try:
        grant = grants.request_grant(session, ctx=ctx, actor=actor, email=email, application=application,
                                     role_group=group)  # fmt: skip
    except BridgeError as exc:
        shown = roll_back_refusal(session, request, exc)
        status = int(shown.pop("status") or 400)
        return _page(request, session, ctx, actor, status_code=status, email=email, chosen=role_group, **shown)
    wake_after_commit(wake, session)
    session.flush()
    return RedirectResponse(f"/ui/grants/{grant.id}", status_code=303)


@router.get("/grants/{grant_id}", name="grant")
def grant_page(
    request: Request, session: SessionDep, ctx: ContextDep, actor: AdminDep, grant_id: RowId
) -> HTMLResponse:
    """One grant of my scope (404 else), with its revoke button."""
    grant = grants.get_grant(session, ctx=ctx, actor=actor, grant_id=grant_id)
    app = ctx.catalogue.applications.get(grant.application)
    return render(request, "grant.html", active="grants", grant=grant, app_name=app.name if app else "")


@router.post("/grants/{grant_id}/revoke", name="grant_revoke")
def revoke(
    request: Request, session: SessionDep, ctx: ContextDep, actor: AdminDep, wake: WakeDep, _csrf: CsrfDep,
    grant_id: RowId,
) -> Response:  # fmt: skip
    """Revoke a grant of my scope (thu hồi quyền); the worker removes the membership in Keycloak."""
    grants.revoke_grant(session, ctx=ctx, actor=actor, grant_id=grant_id)
    wake_after_commit(wake, session)
    return RedirectResponse(f"/ui/grants/{grant_id}", status_code=303)


@router.post("/grants/exception", name="exception_request")
def request_exception_account(
    request: Request, session: SessionDep, ctx: ContextDep, actor: AdminDep, _csrf: CsrfDep,
    email: Annotated[Line, Form(max_length=254)], full_name: Annotated[Line, Form(max_length=200)],
    unit_code: Annotated[Line, Form(max_length=16)], role_group: Annotated[Line, Form(max_length=100)],
    end_date: Annotated[Line, Form(max_length=32)], reason: Annotated[FreeText, Form(max_length=1000)],
) -> Response:  # fmt: skip
    """Ask leadership for an account of a person outside the directory, in a unit of my scope, until a date;
    the request's page in Phê duyệt follows. A refusal is shown on this form, the values kept."""
    application, _sep, group = role_group.partition(SEPARATOR)
    try:
        made = exception_accounts.request_exception_account(
            session, ctx=ctx, actor=actor, email=email, full_name=full_name, unit_code=unit_code.strip(),
            application=application, role_group=group, end_date=parse_vn_date(end_date, field="end_date"),
            reason=reason,
        )  # fmt: skip
    except BridgeError as exc:
        shown = roll_back_refusal(session, request, exc)
        status = int(shown.pop("status") or 400)
        typed = dict(zip(EXCEPTION_FIELDS, (email, full_name, unit_code, role_group, end_date, reason), strict=True))
        return _page(request, session, ctx, actor, status_code=status, x=typed, error_form="exception", **shown)
    session.flush()
    return RedirectResponse(f"/ui/approvals/{made.id}", status_code=303)
