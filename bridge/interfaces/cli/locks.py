"""``bridge lock …``: lock decisions from the command line, the Phụ lục 01 import, and the scheduler worker.

Commands call the same service functions as the API; a refusal is printed with its rule and written to the
ledger as a ``refused`` row, and an import rejected for wrong rows prints every row, column and problem.
``bridge lock run`` is the worker process (docker-compose's bridge worker) that applies decisions on their day.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from bridge.adapters.store.lock_models import LockDecision
from bridge.clock import format_vn
from bridge.domain.lock_reasons import parse_reason, parse_vn_date
from bridge.errors import BridgeError
from bridge.interfaces.cli.common import act_as
from bridge.services.context import GovContext, load_actor
from bridge.services.locks import decisions
from bridge.services.locks.intake import ImportRejected
from bridge.settings import get_settings

console = Console()
lock_app = typer.Typer(help="Lock decisions (khóa tài khoản, Quy chế 2366 Điều 6).", no_args_is_help=True)
AsOpt = Annotated[str, typer.Option("--as", help="E-mail of the administrator acting.")]
UrlOpt = Annotated[str | None, typer.Option("--url", help="Store URL (default: BRIDGE_STORE__URL).")]
T = TypeVar("T")


def _act(url: str | None, actor_email: str, action: str, work: Callable[[Session, GovContext], T]) -> T:
    """Run ``work`` in one transaction; on refusal write the refused row, print, exit 2."""
    return act_as(url, actor_email, action, work, default_target="lock", on_refusal=_print_rejected_rows)


def _print_rejected_rows(exc: BridgeError) -> None:
    """An import rejected for wrong rows: every row, column and problem."""
    if isinstance(exc, ImportRejected):
        table = Table(title="Tệp bị từ chối, không áp dụng dòng nào / file rejected, nothing applied")
        for column in ("Dòng / row", "Cột / column", "Lỗi / problem"):
            table.add_column(column)
        for p in exc.problems:
            table.add_row(str(p.row), p.column, p.problem)
        console.print(table)


def _show(row: LockDecision) -> None:
    end = f" → {format_vn(row.end_date)}" if row.end_date else ""
    console.print(
        f"#{row.id} {row.email} {row.reason_code} {format_vn(row.effective_date)}{end} [{row.status}]",
        markup=False,
        highlight=False,
    )


@lock_app.command("request")
def request(
    email: Annotated[str, typer.Argument(help="Official e-mail of the person.")],
    reason: Annotated[str, typer.Argument(help="maternity, retired, … or the Vietnamese label.")],
    actor: AsOpt,
    number: Annotated[str | None, typer.Option(help="Số quyết định.")] = None,
    decision_date: Annotated[str | None, typer.Option(help="Ngày quyết định, dd/mm/yyyy.")] = None,
    effective: Annotated[str | None, typer.Option(help="Ngày hiệu lực, dd/mm/yyyy (default today).")] = None,
    end: Annotated[str | None, typer.Option(help="Ngày kết thúc (temporary reasons), dd/mm/yyyy.")] = None,
    url: UrlOpt = None,
) -> None:
    """Record a lock decision; the worker applies it on its effective date."""

    def work(session: Session, ctx: GovContext) -> LockDecision:
        return decisions.request_lock(
            session, ctx=ctx, actor=load_actor(session, email=actor), email=email, reason=parse_reason(reason),
            decision_number=number,
            decision_date=parse_vn_date(decision_date, field="decision_date") if decision_date else None,
            effective_date=parse_vn_date(effective, field="effective_date") if effective else None,
            end_date=parse_vn_date(end, field="end_date") if end else None, source="cli",
        )  # fmt: skip

    _show(_act(url, actor, "lock.request", work))


@lock_app.command("cancel")
def cancel(decision_id: int, actor: AsOpt, url: UrlOpt = None) -> None:
    """Cancel a decision not yet in effect."""
    _show(_act(url, actor, "lock.cancel", lambda s, ctx: decisions.cancel_lock(
        s, ctx=ctx, actor=load_actor(s, email=actor), decision_id=decision_id)))  # fmt: skip


@lock_app.command("end-date")
def end_date(
    decision_id: int,
    day: Annotated[str, typer.Argument(help="New return day, dd/mm/yyyy.")],
    actor: AsOpt,
    url: UrlOpt = None,
) -> None:
    """Early return or extension of a temporary lock."""
    new_end = parse_vn_date(day, field="end_date")
    _show(_act(url, actor, "lock.end_date", lambda s, ctx: decisions.change_end_date(
        s, ctx=ctx, actor=load_actor(s, email=actor), decision_id=decision_id, end_date=new_end)))  # fmt: skip


@lock_app.command("list")
def list_command(actor: AsOpt, status: str | None = None, url: UrlOpt = None) -> None:
    """Decisions in my scope, newest first."""
    rows = _act(url, actor, "lock.list", lambda s, ctx: decisions.list_locks(
        s, ctx=ctx, actor=load_actor(s, email=actor), status=status, limit=1000))  # fmt: skip
    for row in rows:
        _show(row)


@lock_app.command("import")
def import_command(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Phụ lục 01 list, .xlsx or .csv.")],
    actor: AsOpt,
    url: UrlOpt = None,
) -> None:
    """Import a Phụ lục 01 list (Khóa, Cấp, Mở khóa rows): every row or none."""
    data = path.read_bytes()
    made = _act(url, actor, "lock.import", lambda s, ctx: decisions.import_phu_luc(
        s, ctx=ctx, actor=load_actor(s, email=actor), data=data, filename=path.name))  # fmt: skip
    console.print(f"{len(made.locks)} quyết định khóa, {len(made.grants)} cấp quyền, {len(made.early_endings)} mở "
                  f"khóa sớm đã ghi / locks, grants, early endings recorded from {path.name}")  # fmt: skip


@lock_app.command("run")
def run(
    once: Annotated[bool, typer.Option("--once", help="One tick, then exit.")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between ticks.")] = 5.0,
) -> None:
    """The scheduler worker: apply due decisions and pending grants/revocations, verify, retry (Ctrl-C stops)."""
    from bridge.services.locks.scheduler import build_scheduler

    scheduler = build_scheduler(get_settings())

    async def main() -> None:
        try:
            if once:
                for outcome in await scheduler.tick():
                    subject = f"grant #{outcome.grant_id}" if outcome.grant_id else f"#{outcome.decision_id}"
                    console.print(f"job {outcome.job_id} ({outcome.kind} {subject}): {outcome.status}"
                                  + (f" — {outcome.error}" if outcome.error else ""))  # fmt: skip
                return
            await scheduler.run(stop=threading.Event(), interval_s=interval)
        finally:
            await scheduler.locks.admin.aclose()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        console.print("Stopped.")
