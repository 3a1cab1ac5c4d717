"""Báo cáo: the quarterly report (Công văn 907) — each unit's preview, download and submission, and for central
readers the status of every reporting unit with the IT Center's workbook and its chart.

Every route calls the report services the API calls (``GET /reports/{unit}/{quarter}``, ``…/submission``,
``/reports/quarters/{quarter}/…``), so a unit outside the caller's scope answers 404 here exactly as there, and
the preview shows the rows the downloaded file holds (``ReportRow.cells``, the same function writes both).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bridge.domain.reports import labels
from bridge.domain.reports.quarter import Quarter, reportable
from bridge.interfaces.api.deps import ContextDep, SessionDep
from bridge.interfaces.web.deps import AdminDep, CsrfDep
from bridge.interfaces.web.forms import Line
from bridge.interfaces.web.render import _, render
from bridge.services.context import GovContext
from bridge.services.reports import render as files
from bridge.services.reports import submissions, summary
from bridge.services.reports.build import build_unit_report

router = APIRouter()
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
QuarterQuery = Annotated[Line, Query(max_length=7, pattern=r"^\d{4}-Q[1-4]$")]

#: A reporting unit's status as staff read it (message ids).
STATUS = {
    "on_time": _("on time"),
    "late": _("late"),
    "missing": _("missing (overdue)"),
    "pending": _("not yet due"),
}


def last_quarter(ctx: GovContext) -> str:
    """The quarter whose report is due now: the one before today's."""
    return str(Quarter.of(ctx.on_date).previous())


def _attachment(content: bytes | str, media_type: str, filename: str) -> Response:
    return Response(content, media_type=media_type, headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})  # fmt: skip


@router.get("/reports", name="reports")
def reports(
    request: Request, session: SessionDep, ctx: ContextDep, actor: AdminDep, quarter: QuarterQuery | None = None
) -> HTMLResponse:
    """The reporting units of my scope for a quarter and their status; central readers also get the chart."""
    chosen = reportable(quarter or last_quarter(ctx), today=ctx.on_date)
    statuses = submissions.quarter_status(session, ctx=ctx, actor=actor, quarter=str(chosen), today=ctx.on_date)
    options, current = [], Quarter.of(ctx.on_date)
    for _index in range(8):
        options.append(str(current))
        current = current.previous()
    return render(request, "reports.html", active="reports", quarter=chosen, statuses=statuses, options=options,
                  central=ctx.units_in_scope(actor) is None, status_label=STATUS, today=ctx.on_date)  # fmt: skip


@router.get("/reports/{unit}/{quarter}", name="report")
def report(
    request: Request, session: SessionDep, ctx: ContextDep, actor: AdminDep, unit: Line, quarter: Line
) -> HTMLResponse:
    """One unit's report: the rows of the file, the downloads, and the submission (404 outside my scope)."""
    built = build_unit_report(session, ctx=ctx, actor=actor, unit_code=unit, quarter=quarter, generated_on=ctx.on_date)
    statuses = submissions.quarter_status(session, ctx=ctx, actor=actor, quarter=str(built.quarter), today=ctx.on_date)
    status = next((s for s in statuses if s.unit_code == unit), None)
    return render(request, "report.html", active="reports", report=built, status=status, columns=labels.COLUMNS,
                  sections=labels.SECTION_TITLES, status_label=STATUS, today=ctx.on_date,
                  can_submit=status is not None and status.submitted_at is None and built.quarter.ended_by(ctx.on_date),
                  days_left=(built.quarter.due_date - ctx.on_date).days)  # fmt: skip


@router.get("/reports/{unit}/{quarter}/file", name="report_file")
def report_file(
    session: SessionDep, ctx: ContextDep, actor: AdminDep, unit: Line, quarter: Line,
    format: Annotated[Literal["xlsx", "csv"], Query()] = "xlsx",
) -> Response:  # fmt: skip
    """The report as .xlsx or .csv, the bytes ``GET /reports/{unit}/{quarter}`` gives."""
    built = build_unit_report(session, ctx=ctx, actor=actor, unit_code=unit, quarter=quarter, generated_on=ctx.on_date)
    name = f"bao-cao-{unit}-{built.quarter}"
    if format == "csv":
        return _attachment(files.report_csv(built), "text/csv; charset=utf-8", f"{name}.csv")
    return _attachment(files.report_xlsx(built), XLSX, f"{name}.xlsx")


@router.post("/reports/{unit}/{quarter}/submit", name="report_submit")
def submit(
    session: SessionDep, ctx: ContextDep, actor: AdminDep, _csrf: CsrfDep, unit: Line, quarter: Line
) -> Response:
    """Mark my unit's report for a finished quarter submitted (the service records it in the ledger)."""
    submissions.submit_report(session, ctx=ctx, actor=actor, unit_code=unit, quarter=quarter)
    return RedirectResponse(f"/ui/reports/{unit}/{quarter}", status_code=303)


@router.get("/reports/quarters/{quarter}/it-center.{kind}", name="it_center_quarter")
def it_center_quarter(
    session: SessionDep, ctx: ContextDep, actor: AdminDep, quarter: Line, kind: Literal["xlsx", "png"]
) -> Response:
    """The IT Center's workbook of a quarter, or its chart (central readers only)."""
    built = summary.build_it_center_quarter(session, ctx=ctx, actor=actor, quarter=quarter, generated_on=ctx.on_date)
    if kind == "png":
        return Response(built.chart_png, media_type="image/png", headers={"Cache-Control": "no-store"})
    return _attachment(built.workbook, XLSX, f"tong-hop-{built.quarter}.xlsx")
