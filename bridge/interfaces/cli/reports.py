"""``bridge report …`` and ``bridge review …``: thin commands over the report and review services.

Mounted by ``bridge/interfaces/cli/main.py`` as ``report_app`` (name ``report``) and ``review_app``
(name ``review``). Each command acts as the administrator named by ``--as`` with that person's scope, exactly
as the API would.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from bridge.adapters.keycloak.admin import service_account_admin
from bridge.adapters.store.session import session_factory, transaction
from bridge.clock import VN_TZ, format_vn, today_vn
from bridge.domain.policy import Actor
from bridge.domain.reports import labels
from bridge.errors import BridgeError
from bridge.interfaces.cli.common import decision_context, fail
from bridge.services.context import GovContext, load_actor
from bridge.services.reports import keycloak_reader, render, review, submissions, summary
from bridge.services.reports.build import build_unit_report
from bridge.settings import get_settings

console = Console()
report_app = typer.Typer(help="Quarterly account reports (Công văn 907).", no_args_is_help=True)
review_app = typer.Typer(help="Account review (rà soát tài khoản).", no_args_is_help=True)

AsOpt = Annotated[str, typer.Option("--as", help="E-mail of the administrator acting.")]
UrlOpt = Annotated[str | None, typer.Option("--url", help="Store URL (default: BRIDGE_STORE__URL).")]
DateOpt = Annotated[str | None, typer.Option("--date", help="Report date YYYY-MM-DD (default: today, VN).")]
QuarterArg = Annotated[str, typer.Argument(help="Quarter as YYYY-Qn, e.g. 2026-Q3.")]
UnitArg = Annotated[str, typer.Argument(help="Unit code, e.g. 01000.")]


def _day(text: str | None) -> dt.date:
    if text is None:
        return today_vn()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise fail(BridgeError(f"--date {text!r} is not YYYY-MM-DD", field="date")) from None


@contextmanager
def _acting(
    actor: str, *, day: dt.date | None = None, url: str | None = None, write: bool = False
) -> Iterator[tuple[GovContext, Session, Actor]]:
    """The context, a session (a transaction when ``write``) and the acting administrator; a domain error
    ends the command with exit 2 and its message."""
    try:
        ctx = decision_context(day.isoformat() if day else None)
        factory = session_factory(url)
        with transaction(factory) if write else factory() as session:
            yield ctx, session, load_actor(session, email=actor)
    except BridgeError as exc:
        raise fail(exc) from None


@report_app.command("unit")
def report_unit(
    unit: UnitArg,
    quarter: QuarterArg,
    actor: AsOpt,
    fmt: Annotated[str, typer.Option("--format", help="xlsx, csv or json")] = "xlsx",
    out: Annotated[Path | None, typer.Option(help="Output file (default: bao-cao-UNIT-QUARTER.FORMAT)")] = None,
    signer: Annotated[str | None, typer.Option(help="Signer shown under the report")] = None,
    date: DateOpt = None,
    url: UrlOpt = None,
) -> None:
    """Write one unit's report for a quarter."""
    if fmt not in ("xlsx", "csv", "json"):
        raise fail(BridgeError(f"--format {fmt!r}: expected xlsx, csv or json", field="format"))
    day = _day(date)
    with _acting(actor, day=day, url=url) as (ctx, session, who):
        report = build_unit_report(
            session, ctx=ctx, actor=who, unit_code=unit, quarter=quarter, signer=signer, generated_on=day
        )
    target = out or Path(f"bao-cao-{unit}-{report.quarter}.{fmt}")
    if fmt == "xlsx":
        target.write_bytes(render.report_xlsx(report))
    elif fmt == "csv":
        target.write_text(render.report_csv(report), encoding="utf-8")
    else:
        target.write_text(json.dumps(render.report_json(report), ensure_ascii=False, indent=1), encoding="utf-8")
    totals = report.totals()
    first = " — báo cáo lần đầu / first report" if report.first_report else ""
    console.print(
        f"{report.unit_name} {report.quarter.label_vi}{first}: giảm {totals['removed']}, tăng {totals['added']} "
        f"→ {target}"
    )


@report_app.command("submit")
def report_submit(unit: UnitArg, quarter: QuarterArg, actor: AsOpt, url: UrlOpt = None) -> None:
    """Mark a unit's report for a (finished) quarter submitted, in the ledger."""
    with _acting(actor, url=url, write=True) as (ctx, session, who):
        done = submissions.submit_report(session, ctx=ctx, actor=who, unit_code=unit, quarter=quarter)
    state = "NỘP MUỘN / late" if done.late else "đúng hạn / on time"
    console.print(f"Đã nộp / submitted {unit} {done.quarter}: {state}; sha256 {done.content_sha256}")


@report_app.command("status")
def report_status(quarter: QuarterArg, actor: AsOpt, date: DateOpt = None, url: UrlOpt = None) -> None:
    """Which reporting units submitted, late, or not at all."""
    day = _day(date)
    with _acting(actor, day=day, url=url) as (ctx, session, who):
        rows = submissions.quarter_status(session, ctx=ctx, actor=who, quarter=quarter, today=day)
    table = Table(title=f"{quarter} — tình trạng nộp báo cáo / submission status ({format_vn(day)})")
    for column in ("Mã", "Đơn vị", "Tình trạng", "Ngày nộp", "Người nộp"):
        table.add_column(column)
    for row in rows:
        at = row.submitted_at.astimezone(VN_TZ).strftime("%d/%m/%Y %H:%M") if row.submitted_at else ""
        table.add_row(row.unit_code, row.unit_name, labels.STATUS_LABELS[row.status], at, row.submitted_by or "")
    console.print(table)
    late = [r.unit_code for r in rows if r.status in ("late", "missing")]
    console.print(f"Muộn hoặc chưa nộp / late or missing: {len(late)} {' '.join(late)}")


@report_app.command("it-center")
def report_it_center(
    quarter: QuarterArg,
    actor: AsOpt,
    out: Annotated[Path | None, typer.Option(help="Workbook path (default: tong-hop-QUARTER.xlsx)")] = None,
    chart: Annotated[Path | None, typer.Option(help="Also write the chart as PNG here")] = None,
    date: DateOpt = None,
    url: UrlOpt = None,
) -> None:
    """The IT Center's workbook of a quarter: summary, chart, one sheet per reporting unit."""
    day = _day(date)
    with _acting(actor, day=day, url=url) as (ctx, session, who):
        result = summary.build_it_center_quarter(session, ctx=ctx, actor=who, quarter=quarter, generated_on=day)
    target = out or Path(f"tong-hop-{result.quarter}.xlsx")
    target.write_bytes(result.workbook)
    if chart is not None:
        chart.write_bytes(result.chart_png)
    late = " ".join(s.unit_code for s in result.late_or_missing)
    console.print(f"{target}: {len(result.statuses)} đơn vị; muộn/chưa nộp {len(result.late_or_missing)}: {late}")


@review_app.command("unit")
def review_unit_command(
    unit: UnitArg,
    actor: AsOpt,
    unused_days: Annotated[int, typer.Option("--unused-days", min=0, help="Unused threshold in days")] = 90,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")] = False,
    url: UrlOpt = None,
) -> None:
    """Review the accounts of a unit against Keycloak (read with the bridge's service account)."""
    with _acting(actor, url=url, write=True) as (ctx, session, who):
        admin = service_account_admin(get_settings().keycloak, realm=ctx.units.realm)
        findings = review.review_unit(
            session,
            ctx=ctx,
            actor=who,
            unit_code=unit,
            read_facts=keycloak_reader.keycloak_reader(admin),
            unused_days=unused_days,
        )
    if as_json:
        rows = [{"kind": f.kind.value, "label": f.label, "email": f.email, "unit": f.unit_code, "detail": f.detail}
                for f in findings]  # fmt: skip
        console.print_json(json.dumps(rows, ensure_ascii=False))
        return
    table = Table(title=f"Rà soát tài khoản / account review {unit}")
    for column in ("Vấn đề", "Tài khoản", "Đơn vị", "Chi tiết"):
        table.add_column(column)
    for f in findings:
        table.add_row(f.label, f.email, f.unit_code, f.detail)
    console.print(table)


@review_app.command("ingest-logins")
def review_ingest_logins(url: UrlOpt = None) -> None:
    """Copy Keycloak LOGIN events into the store (run periodically by the worker)."""
    settings = get_settings()
    try:
        ctx = decision_context()
        admin = service_account_admin(settings.keycloak, realm=ctx.units.realm)
        with transaction(session_factory(url)) as session:
            added = keycloak_reader.ingest_logins(session, ctx=ctx, actor=None, admin=admin)
    except BridgeError as exc:
        raise fail(exc) from None
    console.print(f"{added} sự kiện đăng nhập mới / new LOGIN events stored")
