"""Nhật ký: the audit ledger — filtered by actor, target, action and dd/mm/yyyy dates, paged, newest first —
and a verify button that checks the whole hash chain and shows its head hash.

Both read through :mod:`bridge.services.audit` with the API's rule (R16: IT Center, leadership, auditors), so a
provincial administrator is refused here as at ``GET /audit/ledger``. Verifying reads, it changes nothing, so
it is a GET with ``verify=1``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from bridge.domain.lock_reasons import parse_vn_date
from bridge.interfaces.api.deps import ContextDep, SessionDep
from bridge.interfaces.web.deps import AdminDep
from bridge.interfaces.web.forms import Line
from bridge.interfaces.web.render import render
from bridge.services import audit

router = APIRouter()
PAGE_SIZE = 50
Text = Annotated[Line, Query(max_length=300)]


@router.get("/ledger", name="ledger")
def ledger(
    request: Request,
    session: SessionDep,
    ctx: ContextDep,
    actor: AdminDep,
    who: Text = "",
    target: Text = "",
    action: Text = "",
    date_from: Annotated[Line, Query(max_length=10)] = "",
    date_to: Annotated[Line, Query(max_length=10)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    verify: bool = False,
) -> HTMLResponse:
    """One page of ledger rows matching the filters; with ``verify`` the chain's check and head hash."""
    day_from = parse_vn_date(date_from, field="date_from") if date_from.strip() else None
    day_to = parse_vn_date(date_to, field="date_to") if date_to.strip() else None
    found = audit.search_ledger(session, ctx=ctx, actor=actor, who=who.strip() or None, target=target or None,
                                action=action or None, day_from=day_from, day_to=day_to, limit=PAGE_SIZE,
                                offset=(page - 1) * PAGE_SIZE)  # fmt: skip
    checked = audit.verify_ledger(session, ctx=ctx, actor=actor) if verify else None
    filters = {"who": who, "target": target, "action": action, "date_from": date_from, "date_to": date_to}
    return render(request, "ledger.html", active="ledger", found=found, page=page, filters=filters,
                  checked=checked)  # fmt: skip
