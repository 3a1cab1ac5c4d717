"""The ``bridge`` command line: thin commands calling the same service functions as the API.

Sub-apps are mounted here; each command prints a readable plan or report (rich) and exits non-zero with a
precise message on bad input.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer
from rich.table import Table

from bridge.clock import format_vn, today_vn
from bridge.errors import BridgeError
from bridge.interfaces.cli.common import console, fail
from bridge.settings import get_settings

app = typer.Typer(help="BHXH SSO identity bridge", no_args_is_help=True)
keycloak_app = typer.Typer(help="Keycloak as code", no_args_is_help=True)
app.add_typer(keycloak_app, name="keycloak")
console_app = typer.Typer(
    help="The Keycloak admin console: FGAP v2 scopes and the admin-event watcher", no_args_is_help=True
)
app.add_typer(console_app, name="console")


def _mount_governance() -> None:
    from bridge.interfaces.cli.db import db_app
    from bridge.interfaces.cli.governance import audit_app, explain_command, governance_app

    app.add_typer(db_app, name="db")
    app.add_typer(audit_app, name="audit")
    app.add_typer(governance_app, name="governance")
    app.command("explain")(explain_command)


_mount_governance()


def _mount_provisioning() -> None:
    from bridge.interfaces.cli.sync import plan_command, sync_app

    app.add_typer(sync_app, name="sync")
    app.command("plan")(plan_command)


_mount_provisioning()


def _mount_locks() -> None:
    from bridge.interfaces.cli.grants import grant_app
    from bridge.interfaces.cli.locks import lock_app

    app.add_typer(grant_app, name="grant")
    app.add_typer(lock_app, name="lock")


_mount_locks()


def _mount_reports() -> None:
    from bridge.interfaces.cli.reports import report_app, review_app

    app.add_typer(report_app, name="report")
    app.add_typer(review_app, name="review")


_mount_reports()


def _mount_reorg() -> None:
    from bridge.interfaces.cli.reorg import reorg_app

    app.add_typer(reorg_app, name="reorg")


_mount_reorg()


def _mount_extractions() -> None:
    from bridge.interfaces.cli.extractions import extraction_app

    app.add_typer(extraction_app, name="extraction")


_mount_extractions()


def _mount_processes() -> None:
    from bridge.interfaces.cli.run import serve, worker

    app.command("serve")(serve)
    app.command("worker")(worker)


_mount_processes()


def _mount_init() -> None:
    from bridge.interfaces.cli.init import init_command

    app.command("init")(init_command)


_mount_init()


@keycloak_app.command("apply")
def keycloak_apply(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the plan, change nothing")] = False,
    on: Annotated[str | None, typer.Option(help="Unit tree date, YYYY-MM-DD (default: today in Vietnam)")] = None,
) -> None:
    """Plan the realm from keycloak-config/ and apply it (idempotent: a second run reports no changes)."""
    from bridge.services.keycloak_config import apply_keycloak_config

    day = dt.date.fromisoformat(on) if on else today_vn()
    try:
        result = apply_keycloak_config(get_settings(), day=day, dry_run=dry_run)
    except BridgeError as exc:
        raise fail(exc) from None
    for one in (result, *result.others):  # every realm: the default, then those units.yaml assigns units to
        if not one.changes:
            console.print(f"Realm [bold]{one.realm}[/] ({format_vn(day)}): no changes — Không có thay đổi.")
            continue
        table = Table(title=f"Kế hoạch / Plan for realm {one.realm} ({format_vn(day)})")
        for column in ("#", "action", "kind", "name", "fields"):
            table.add_column(column)
        for index, change in enumerate(one.changes, 1):
            table.add_row(str(index), change.action, change.kind, change.name, ", ".join(change.fields)[:80])
        console.print(table)
        verb = "would apply (dry run)" if dry_run else "applied"
        console.print(f"{len(one.changes)} change(s) {verb}.")


@keycloak_app.command("seed")
def keycloak_seed(
    realm: Annotated[str | None, typer.Option(help="Realm to seed (default: the deployment's)")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count and check, change nothing")] = False,
    batch_size: Annotated[
        int, typer.Option(help="Users per partialImport request; 0: the service's default (decision 0910)")
    ] = 0,
    concurrency: Annotated[int, typer.Option(help="Requests in flight; 0: the service's default")] = 0,
) -> None:
    """Initial load of an EMPTY realm: every directory person with the bridge's id and unit group (decision 0910).

    Uses the configuration credential (manage-realm), never the bridge's daily service account.
    """
    import asyncio

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from bridge.services.keycloak_config import load_realm_units
    from bridge.services.sync import seed

    settings = get_settings()
    day = today_vn()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("Nạp ban đầu / Seeding", total=None)

        def step(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            report = asyncio.run(
                seed.seed_realm(
                    settings=settings,
                    units=load_realm_units(settings),
                    day=day,
                    dry_run=dry_run,
                    batch_size=batch_size or seed.BATCH_SIZE,
                    concurrency=concurrency or seed.CONCURRENCY,
                    progress=step,
                    realm=realm,
                )
            )
        except BridgeError as exc:
            raise fail(exc) from None
    verb = "sẽ nạp / would seed (dry run)" if dry_run else "đã nạp / seeded"
    console.print(
        f"Realm [bold]{report.realm}[/] ({format_vn(day)}): {report.people} người {verb}, "
        f"{report.disabled} bị khóa / disabled (hold), {report.rejected} mục bị loại / rejected, "
        f"{report.batches} lô / batches of {report.batch_size}, {report.seconds:.1f} s."
    )


@console_app.command("permissions")
def console_permissions() -> None:
    """Give each provincial administrator (from the store) an FGAP v2 scope on their province's unit group."""
    from bridge.services.console import apply_console_permissions

    try:
        done = apply_console_permissions(get_settings(), day=today_vn())
    except BridgeError as exc:
        raise fail(exc) from None
    for unit_code, count in sorted(done.items()):
        console.print(f"Đơn vị / unit {unit_code}: {count} quản trị viên / administrator(s) scoped")
    if not done:
        console.print("No provincial administrators in the store.")


@console_app.command("watch")
def console_watch(
    interval: Annotated[float, typer.Option(help="Seconds between polls of Keycloak's admin events")] = 2.0,
) -> None:
    """Judge every console change with the bridge's rules from the store's cursor on; revert and audit the refused
    ones (Ctrl-C or SIGTERM stops after the change in hand)."""
    import contextlib
    import signal
    import threading

    from bridge.services.console import build_watcher

    watcher = build_watcher(get_settings())
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    console.print(f"Watching admin events every {interval:.1f} s …")
    with contextlib.suppress(KeyboardInterrupt):
        watcher.watch(day=today_vn, interval_s=interval, stop=stopping.is_set)
    console.print("Stopped.")


def main() -> None:
    """Entry point for ``python -m bridge``."""
    app()
