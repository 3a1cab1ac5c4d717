"""Rà soát: the account review of a unit (Công văn 907), each finding linked to the person's page.

The page runs :func:`bridge.services.reports.review.review_unit` — the service ``GET /reviews/{unit}`` calls,
with the same Keycloak reader dependency — so a unit outside the caller's scope answers 404, and each run is
one ``review.run`` ledger row, as through the API. Without a ``unit`` the page shows only the form.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from bridge.interfaces.api.deps import ContextDep, SessionDep
from bridge.interfaces.api.routes.reports import ReviewReaderDep
from bridge.interfaces.web.deps import AdminDep
from bridge.interfaces.web.forms import Line
from bridge.interfaces.web.render import _, render
from bridge.services.reports import review as reviews
from bridge.services.reports.review import FindingKind

router = APIRouter()

#: Finding kinds in English (the Vietnamese labels are the service's ``KIND_LABELS``); message ids.
KINDS = {
    FindingKind.ABSENT_FROM_DIRECTORY: _("Not in the official mail directory, yet the account is enabled"),
    FindingKind.LOCKED_BUT_ENABLED: _("Under a lock, yet the account is enabled"),
    FindingKind.UNUSED: _("Account not used"),
    FindingKind.MEMBERSHIP_WITHOUT_GRANT: _("Application role without a grant record"),
    FindingKind.CONCURRENT_SESSIONS: _("One account signed in from several addresses at once"),
    FindingKind.ADMIN_WITHOUT_SECOND_FACTOR: _("Administrator account without a second factor"),
    FindingKind.EXCEPTION_ACCOUNT: _("Exception account (outside the directory, approved by leadership)"),
}


@router.get("/review", name="review")
def review(
    request: Request,
    session: SessionDep,
    ctx: ContextDep,
    actor: AdminDep,
    reader: ReviewReaderDep,
    unit: Annotated[Line, Query(max_length=16)] = "",
    unused_days: Annotated[int, Query(ge=0, le=3650)] = 90,
) -> HTMLResponse:
    """The form (unit, days without login) and, for a unit in my scope, its findings grouped by kind."""
    findings = None
    if unit.strip():
        findings = reviews.review_unit(session, ctx=ctx, actor=actor, unit_code=unit.strip(), read_facts=reader,
                                       unused_days=unused_days, today=ctx.on_date)  # fmt: skip
    groups: dict[FindingKind, list[reviews.Finding]] = {}
    for finding in findings or []:
        groups.setdefault(finding.kind, []).append(finding)
    return render(request, "review.html", active="review", unit=unit.strip() or (actor.unit_code or ""),
                  ran=findings is not None, unused_days=unused_days, groups=groups, kinds=KINDS,
                  total=len(findings or []), today=ctx.on_date)  # fmt: skip
