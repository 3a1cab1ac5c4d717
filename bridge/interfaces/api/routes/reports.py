"""Quarterly reports, submissions, the IT Center's quarter, and account reviews — thin routes over the services.

The quarter is a path segment ``YYYY-Qn``; a malformed or future quarter answers 422 naming ``quarter``; an
unknown unit 422 naming ``unit``; a unit outside the caller's scope 404, like a missing one.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel

from bridge.adapters.keycloak.admin import service_account_admin
from bridge.interfaces.api.deps import ActorDep, ContextDep, SessionDep
from bridge.services.reports import keycloak_reader, render, review, submissions, summary
from bridge.services.reports.build import build_unit_report
from bridge.settings import get_settings

router = APIRouter(tags=["reports"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class SubmissionPublic(BaseModel):
    """A report marked submitted."""

    unit_code: str
    quarter: str
    submitted_by: str
    submitted_at: dt.datetime
    content_sha256: str
    late: bool


class UnitStatusPublic(BaseModel):
    """A reporting unit's status for a quarter: on_time, late, missing or pending."""

    unit_code: str
    unit_name: str
    status: str
    submitted_at: dt.datetime | None
    submitted_by: str | None


class FindingPublic(BaseModel):
    """One review finding."""

    kind: str
    label: str
    email: str
    unit_code: str
    detail: str


def _attachment(content: bytes | str, media_type: str, filename: str) -> Response:
    return Response(content, media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})  # fmt: skip


@router.get("/reports/{unit}/{quarter}", response_model=None)
def get_report(
    session: SessionDep,
    ctx: ContextDep,
    actor: ActorDep,
    unit: str,
    quarter: str,
    format: Literal["json", "csv", "xlsx"] = "json",
    signer: str | None = None,
) -> Response | dict[str, Any]:
    """One unit's report for a quarter, as JSON, CSV or .xlsx."""
    report = build_unit_report(
        session, ctx=ctx, actor=actor, unit_code=unit, quarter=quarter, signer=signer, generated_on=ctx.on_date
    )
    name = f"bao-cao-{unit}-{report.quarter}"
    if format == "xlsx":
        return _attachment(render.report_xlsx(report), XLSX, f"{name}.xlsx")
    if format == "csv":
        return _attachment(render.report_csv(report), "text/csv; charset=utf-8", f"{name}.csv")
    return render.report_json(report)


@router.post("/reports/{unit}/{quarter}/submission", response_model=SubmissionPublic, status_code=201)
def submit_report(session: SessionDep, ctx: ContextDep, actor: ActorDep, unit: str, quarter: str) -> Any:
    """Mark my unit's report for a finished quarter submitted (recorded in the ledger)."""
    return submissions.submit_report(session, ctx=ctx, actor=actor, unit_code=unit, quarter=quarter)


@router.get("/reports/quarters/{quarter}/status", response_model=list[UnitStatusPublic])
def quarter_status(session: SessionDep, ctx: ContextDep, actor: ActorDep, quarter: str) -> Any:
    """Reporting units in my scope with their submission status."""
    return submissions.quarter_status(session, ctx=ctx, actor=actor, quarter=quarter, today=ctx.on_date)


@router.get("/reports/quarters/{quarter}/it-center", response_model=None)
def it_center_quarter(
    session: SessionDep,
    ctx: ContextDep,
    actor: ActorDep,
    quarter: str,
    format: Literal["xlsx", "png"] = "xlsx",
) -> Response:
    """The IT Center's workbook of a quarter (or its chart as PNG); central readers only."""
    result = summary.build_it_center_quarter(session, ctx=ctx, actor=actor, quarter=quarter, generated_on=ctx.on_date)
    if format == "png":
        return Response(result.chart_png, media_type="image/png")
    return _attachment(result.workbook, XLSX, f"tong-hop-{result.quarter}.xlsx")


def get_review_reader(ctx: ContextDep) -> review.FactsReader:
    """The review's Keycloak side: the bridge's service account on the realm (tests override it)."""
    return keycloak_reader.keycloak_reader(service_account_admin(get_settings().keycloak, realm=ctx.units.realm))


ReviewReaderDep = Annotated[review.FactsReader, Depends(get_review_reader)]


@router.get("/reviews/{unit}", response_model=list[FindingPublic])
def review_unit(
    session: SessionDep,
    ctx: ContextDep,
    actor: ActorDep,
    reader: ReviewReaderDep,
    unit: str,
    unused_days: Annotated[int, Query(ge=0, le=3650)] = 90,
) -> list[FindingPublic]:
    """Review my unit's accounts against Keycloak."""
    findings = review.review_unit(
        session, ctx=ctx, actor=actor, unit_code=unit, read_facts=reader, unused_days=unused_days,
        today=ctx.on_date,
    )  # fmt: skip
    return [FindingPublic(kind=f.kind.value, label=f.label, email=f.email, unit_code=f.unit_code, detail=f.detail)
            for f in findings]  # fmt: skip
