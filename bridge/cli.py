"""The ``bridge`` command line: thin commands calling the same service functions as the API.

Sub-apps are mounted here; each command prints a readable plan or report (rich) and exits non-zero with a
precise message on bad input.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bridge.clock import format_vn, today_vn
from bridge.errors import BridgeError
from bridge.settings import get_settings

app = typer.Typer(help="BHXH SSO identity bridge", no_args_is_help=True)
keycloak_app = typer.Typer(help="Keycloak as code", no_args_is_help=True)
app.add_typer(keycloak_app, name="keycloak")
console = Console()


def fail(exc: BridgeError) -> typer.Exit:
    """Print a domain error in red and return the exit to raise."""
    console.print(f"[bold red]Lỗi / Error[/] ({exc.code}): {exc.message}")
    return typer.Exit(code=2)


@keycloak_app.command("apply")
def keycloak_apply(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the plan, change nothing")] = False,
    on: Annotated[
        str | None, typer.Option(help="Unit tree date, YYYY-MM-DD (default: today in Vietnam)")
    ] = None,
) -> None:
    """Plan the realm from keycloak-config/ and apply it (idempotent: a second run reports no changes)."""
    from provisioning.keycloak.config_service import apply_keycloak_config

    day = dt.date.fromisoformat(on) if on else today_vn()
    try:
        result = apply_keycloak_config(get_settings(), day=day, dry_run=dry_run)
    except BridgeError as exc:
        raise fail(exc) from None
    if not result.changes:
        console.print(f"Realm [bold]{result.realm}[/] ({format_vn(day)}): no changes — Không có thay đổi.")
        return
    table = Table(title=f"Kế hoạch / Plan for realm {result.realm} ({format_vn(day)})")
    for column in ("#", "action", "kind", "name", "fields"):
        table.add_column(column)
    for index, change in enumerate(result.changes, 1):
        table.add_row(str(index), change.action, change.kind, change.name, ", ".join(change.fields)[:80])
    console.print(table)
    verb = "would apply (dry run)" if dry_run else "applied"
    console.print(f"{len(result.changes)} change(s) {verb}.")


def main() -> None:
    """Entry point for ``python -m bridge``."""
    app()
