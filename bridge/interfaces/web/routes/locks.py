"""Khóa tài khoản: record a lock decision, list them, cancel one, move its end date, show a lock's proof.

Dates are typed dd/mm/yyyy (Vietnamese calendar days) and parsed by the domain's :func:`parse_vn_date`; the
lock service decides everything else, exactly as for ``POST /locks``. A refusal leaves through the console's
error page with the service's message (and the API's ledger row).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from bridge.domain.lock_reasons import LABELS_VI, TEMPORARY, parse_reason, parse_vn_date
from bridge.domain.policy import Actor
from bridge.errors import BridgeError
from bridge.interfaces.api.deps import ContextDep, SessionDep, WakeDep
from bridge.interfaces.api.routes.locks import wake_after_commit
from bridge.interfaces.api.schemas import RowId
from bridge.interfaces.web.deps import AdminDep, CsrfDep
from bridge.interfaces.web.forms import Line
from bridge.interfaces.web.inline import roll_back_refusal
from bridge.interfaces.web.render import render
from bridge.services.context import GovContext
from bridge.services.locks import decisions

router = APIRouter()
PAGE_SIZE = 50
STATUSES = ("scheduled", "in_force", "ended", "cancelled", "done")
Text = Annotated[Line, Form(max_length=200)]


def _day(text: str, field: str) -> dt.date | None:
    return parse_vn_date(text, field=field) if text.strip() else None


def _list_page(request: Request, session: Session, ctx: GovContext, actor: Actor, *, status: str = "",
               email: str = "", page: int = 1, status_code: int = 200, **form: Any) -> HTMLResponse:  # fmt: skip
    rows = decisions.list_locks(session, ctx=ctx, actor=actor, status=status or None, email=email or None,
                                limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)  # fmt: skip
    form.setdefault("form", {"email": email})
    return render(request, "locks.html", status_code=status_code, active="locks", rows=rows, reasons=LABELS_VI,
                  temporary=TEMPORARY, statuses=STATUSES, status=status, email=email, page=page, today=ctx.on_date,
                  **form)  # fmt: skip


@router.get("/locks", name="locks")
def locks(
    request: Request,
    session: SessionDep,
    ctx: ContextDep,
    actor: AdminDep,
    status: Annotated[Line | None, Query(max_length=16)] = None,
    email: Annotated[Line, Query(max_length=254)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """The form, and the decisions of my scope (newest first)."""
    return _list_page(request, session, ctx, actor, status=status or "", email=email, page=page)


@router.post("/locks", name="lock_create")
def create_lock(
    request: Request, session: SessionDep, ctx: ContextDep, actor: AdminDep, wake: WakeDep, _csrf: CsrfDep,
    email: Text, reason: Text, decision_number: Text = "", decision_date: Text = "",
    effective_date: Text = "", end_date: Text = "",
) -> Response:  # fmt: skip
    """Record a lock decision; the scheduler applies it on its effective date. A refusal (a date that does not
    exist, a missing end date, a person outside my scope…) is shown on the form beside the field it names."""
    try:
        row = decisions.request_lock(
            session, ctx=ctx, actor=actor, email=email, reason=parse_reason(reason),
            decision_number=decision_number.strip() or None,
            decision_date=_day(decision_date, "decision_date"),
            effective_date=_day(effective_date, "effective_date"),
            end_date=_day(end_date, "end_date"),
            source="ui",
        )  # fmt: skip
    except BridgeError as exc:
        shown = roll_back_refusal(session, request, exc)
        status = int(shown.pop("status") or 400)
        form = {"email": email, "reason": reason, "decision_number": decision_number, "decision_date": decision_date,
                "effective_date": effective_date, "end_date": end_date}  # fmt: skip
        return _list_page(request, session, ctx, actor, status_code=status, form=form, **shown)
    wake_after_commit(wake, session)
    session.flush()
    return RedirectResponse(f"/ui/locks/{row.id}", status_code=303)


@router.get("/locks/{decision_id}", name="lock")
def lock(request: Request, session: SessionDep, ctx: ContextDep, actor: AdminDep, decision_id: RowId) -> HTMLResponse:
    """One decision of my scope, with the proof Keycloak gave when it was applied (404 else)."""
    row = decisions.get_lock(session, ctx=ctx, actor=actor, decision_id=decision_id)
    return render(request, "lock.html", active="locks", row=row, reasons=LABELS_VI, temporary=TEMPORARY)


@router.post("/locks/{decision_id}/cancel", name="lock_cancel")
def cancel(session: SessionDep, ctx: ContextDep, actor: AdminDep, _csrf: CsrfDep, decision_id: RowId) -> Response:
    """Cancel a decision not yet in effect."""
    decisions.cancel_lock(session, ctx=ctx, actor=actor, decision_id=decision_id)
    return RedirectResponse(f"/ui/locks/{decision_id}", status_code=303)


@router.post("/locks/{decision_id}/end-date", name="lock_end_date")
def change_end_date(
    session: SessionDep, ctx: ContextDep, actor: AdminDep, wake: WakeDep, _csrf: CsrfDep,
    decision_id: RowId, end_date: Text,
) -> Response:  # fmt: skip
    """Early return or extension of a temporary lock."""
    day = parse_vn_date(end_date, field="end_date")
    decisions.change_end_date(session, ctx=ctx, actor=actor, decision_id=decision_id, end_date=day)
    wake_after_commit(wake, session)
    return RedirectResponse(f"/ui/locks/{decision_id}", status_code=303)
