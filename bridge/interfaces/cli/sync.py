"""``bridge sync``, ``bridge plan``, ``bridge sync approve``: thin commands over :mod:`bridge.services.sync.run`.

Mounted by ``bridge/interfaces/cli/main.py`` (``app.add_typer(sync_app, name="sync")`` and
``app.command("plan")(plan_command)``); ``python -m bridge.interfaces.cli.sync`` runs the same commands without the rest
of the bridge. Output is for people: Vietnamese labels with the English beside them, dates as dd/mm/yyyy, a
summary table at the end.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import defaultdict
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from bridge.adapters.store.session import session_factory, transaction
from bridge.clock import format_vn, today_vn
from bridge.domain.sync.planner import REASON_LABELS, OpKind
from bridge.domain.units import UnitTree, load_units
from bridge.errors import BridgeError
from bridge.services.sync import valve
from bridge.services.sync.executor import OpResult
from bridge.services.sync.run import RunReport, run_sync, sync_realms, watch
from bridge.settings import Settings, get_settings

console = Console()
sync_app = typer.Typer(help="Đồng bộ thư mục → Keycloak / Directory → Keycloak sync", invoke_without_command=True)
EXIT = {"applied": 0, "planned": 0, "partial": 1, "stopped": 1, "failed": 2, "halted": 3}

DryRun = Annotated[bool, typer.Option("--dry-run", help="Plan only, change nothing")]
Full = Annotated[
    bool,
    typer.Option("--full", help="Full reconcile: list Keycloak, trust it and the directory, repair the applied record"),
]
On = Annotated[str | None, typer.Option("--on", help="Effective date YYYY-MM-DD (default: today in Vietnam)")]


class RichObserver:
    """Progress bars of one run."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: int | None = None

    def phase(self, name: str, total: int | None = None) -> None:
        """Finish the previous bar and start one for ``name``."""
        self.done()
        self.task = self.progress.add_task(name, total=total)

    def done(self) -> None:
        """Mark the current bar finished."""
        if self.task is not None:
            task = next(t for t in self.progress.tasks if t.id == self.task)
            self.progress.update(self.task, total=task.total or 1, completed=task.total or 1)  # type: ignore[arg-type]

    def step(self, result: OpResult) -> None:
        """One operation done."""
        if self.task is not None:
            self.progress.advance(self.task)  # type: ignore[arg-type]


def _units(settings: Settings) -> UnitTree:
    return load_units(settings.keycloak.config_dir / "units.yaml")


def _day(on: str | None) -> dt.date:
    return dt.date.fromisoformat(on) if on else today_vn()


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def run_with_progress(
    settings: Settings, units: UnitTree, *, day: dt.date, full: bool, dry_run: bool, realm: str | None = None
) -> RunReport:
    """One sync run of one realm with rich progress bars (used by `bridge sync` and `make demo`)."""
    with _progress() as progress:
        observer = RichObserver(progress)
        report = asyncio.run(
            run_sync(
                settings=settings,
                units=units,
                day=day,
                full=full,
                dry_run=dry_run,
                observer=observer,
                realm=realm,
            )
        )
        observer.done()
    return report


def print_plan(report: RunReport, units: UnitTree) -> None:
    """The plan as a readable diff grouped by unit."""
    if not report.ops:
        console.print(f"Không có thay đổi / No changes ({format_vn(report.day)}).")
        return
    by_unit: dict[str, list[str]] = defaultdict(list)
    for op in report.ops:
        if op.kind is OpKind.MOVE:
            change = f"{', '.join(op.leave_groups) or '—'} → {op.group_path}"
        elif op.kind is OpKind.ENSURE:
            change = f"+ {op.group_path}" + ("" if op.enabled else " (khóa / disabled)")
        else:
            change = "khóa / disable" if op.kind is OpKind.DISABLE else "mở khóa / enable"
        by_unit[op.unit_code].append(f"  {REASON_LABELS[op.reason]:<40} {op.mail:<40} {change}")
    console.print(f"[bold]Kế hoạch / Plan[/] {report.plan_hash[:16]}… — {format_vn(report.day)}, realm {report.realm}")
    for unit_code in sorted(by_unit):
        unit = units.get(unit_code, report.day)
        name = unit.name if unit else "(đơn vị đã giải thể / closed unit)"
        console.print(f"[bold cyan]Đơn vị / Unit {unit_code}[/] {name} — {len(by_unit[unit_code])}")
        for line in by_unit[unit_code]:
            console.print(line, highlight=False)


def print_summary(report: RunReport) -> None:
    """The summary table of a run, rejected entries, and what to do when halted."""
    title = f"Đồng bộ / Sync run {report.run_id}, realm {report.realm} — {format_vn(report.day)} ({report.mode})"
    table = Table(title=title)
    table.add_column("Mục / Item")
    table.add_column("Số / Count", justify="right")
    for reason, label in REASON_LABELS.items():
        table.add_row(label, str(report.counts().get(reason.value, 0)))
    table.add_row("Thư mục / Directory entries", str(report.directory_size))
    table.add_row("Bị loại / Rejected entries", str(len(report.rejected)))
    table.add_row("Đã áp dụng / Applied", str(report.applied))
    table.add_row("Lỗi / Failed", str(len(report.failed)))
    table.add_row("Lệnh đọc / Read calls", str(report.reads))
    table.add_row("Lệnh ghi / Write calls", str(report.writes))
    if report.record is not None:
        table.add_row("Bản ghi đã áp dụng / Applied record rows written", str(report.record["written"]))
    table.add_row("Thời gian / Seconds", f"{report.seconds:.1f}")
    table.add_row("Trạng thái / Status", report.status)
    console.print(table)
    if report.rejected:
        rejected = Table(title="Mục thư mục bị loại / Rejected directory entries")
        rejected.add_column("DN")
        rejected.add_column("Lý do / Reason")
        for entry in report.rejected[:50]:
            rejected.add_row(entry.dn, entry.reason)
        console.print(rejected)
    if report.findings:
        found = Table(title="Dữ liệu thư mục cần sửa tại nguồn / Directory data-quality findings (IT Center)")
        found.add_column("DN")
        found.add_column("Thuộc tính / Attributes")
        found.add_column("Vấn đề / Problem")
        for finding in report.findings[:50]:
            found.add_row(finding["dn"], finding["attributes"], finding["problem"])
        console.print(found)
    for result in report.failed[:20]:
        console.print(f"[red]Lỗi / Failed[/] {result.op.kind} {result.op.mail}: {result.error}")
    if report.error:
        console.print(f"[bold red]Lỗi / Error[/]: {report.error}")
    if report.status == "halted" and report.approval_id is None:
        console.print("[bold red]Dừng / Halted[/]: nothing was changed (see the error above)")
    elif report.status == "halted":
        console.print(f"[bold red]Dừng / Halted[/] by the safety valve: {'; '.join(report.verdict.reasons)}")
        console.print(
            "Hai quản trị viên Trung tâm CNTT phải phê duyệt / two central administrators must approve:\n"
            f"  bridge sync approve {report.plan_hash} --as <email>"
        )


@sync_app.callback()
def sync(
    ctx: typer.Context,
    dry_run: DryRun = False,
    full: Full = False,
    watch_: Annotated[bool, typer.Option("--watch", help="Keep polling the directory")] = False,
    on: On = None,
    realm: Annotated[str | None, typer.Option("--realm", help="Only this realm (default: every realm)")] = None,
) -> None:
    """Bring Keycloak in line with the official directory (joiners, movers, leavers, reorganisations), realm by
    realm: the default one, then those units.yaml assigns units to (docs/decisions/0702)."""
    if ctx.invoked_subcommand is not None:
        return
    settings = get_settings()
    units = _units(settings)
    if watch_:
        asyncio.run(watch(settings=settings, units=units, on_report=print_summary))
        return
    code = 0
    for one in (realm,) if realm else sync_realms(settings, units):
        try:
            report = run_with_progress(settings, units, day=_day(on), full=full, dry_run=dry_run, realm=one)
        except BridgeError as exc:  # the run could not even be recorded as started (the store is down)
            console.print(f"[bold red]Lỗi / Error[/] ({exc.code}): {exc.message}")
            raise typer.Exit(code=EXIT["failed"]) from None
        if dry_run or report.status == "halted":
            print_plan(report, units)
        print_summary(report)
        code = max(code, EXIT.get(report.status, 2))
    raise typer.Exit(code=code)


@sync_app.command("approve")
def approve(
    plan_hash: Annotated[str, typer.Argument(help="Hash of the halted plan")],
    as_: Annotated[str, typer.Option("--as", help="E-mail of the approving central administrator")],
    realm: Annotated[str | None, typer.Option("--realm", help="Realm of the halted run (default: the default)")] = None,
) -> None:
    """Approve the release of a halted plan (two distinct central administrators are needed)."""
    settings = get_settings()
    factory = session_factory(settings.store.url)
    try:
        with transaction(factory) as session:
            request = valve.approve_release(
                session,
                digest=plan_hash,
                realm=realm or settings.keycloak.realm,
                approver=as_,
                units=_units(settings),
                day=today_vn(),
                it_center_unit=settings.governance.it_center_unit,
            )
            status, approvers = request.status, sorted(d.approver for d in request.decisions if d.approved)
    except valve.ValveRefused as exc:
        valve.record_valve_refusal(factory, exc=exc, approver=as_)
        console.print(f"[bold red]Từ chối / Refused[/]: {exc.message}")
        raise typer.Exit(code=2) from None
    except BridgeError as exc:
        console.print(f"[bold red]Lỗi / Error[/] ({exc.code}): {exc.message}")
        raise typer.Exit(code=2) from None
    console.print(f"Phê duyệt / Approved by {', '.join(approvers)} — status {status}.")
    if status == "approved":
        console.print("Van an toàn đã mở / Valve released: run `bridge sync` to apply this plan.")


def plan_command(full: Full = False, on: On = None) -> None:
    """Show what a sync would change, grouped by unit (nothing is written)."""
    settings = get_settings()
    units = _units(settings)
    report = run_with_progress(settings, units, day=_day(on), full=full, dry_run=True)
    print_plan(report, units)
    print_summary(report)
    raise typer.Exit(code=EXIT.get(report.status, 2))


app = typer.Typer(help="Sync engine (standalone)", no_args_is_help=True)
app.add_typer(sync_app, name="sync")
app.command("plan")(plan_command)

if __name__ == "__main__":
    app()
