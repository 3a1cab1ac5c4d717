"""Command-line entry points of the governance core, mounted by ``bridge/cli.py``.

``db_app`` (``bridge db …``), ``audit_app`` (``bridge audit …``) and ``governance_app`` (``bridge governance
…``) call the same service functions as the API, so an operator on the server and an administrator over HTTP
are held to the same rules and leave the same ledger rows.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from bridge.store import migrate

console = Console()
db_app = typer.Typer(help="The bridge's store (SQLite or PostgreSQL).", no_args_is_help=True)

UrlOpt = Annotated[str | None, typer.Option("--url", help="Store URL (default: BRIDGE_STORE__URL).")]


@db_app.command("upgrade")
def db_upgrade(
    url: UrlOpt = None,
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
    app_role: Annotated[str | None, typer.Option(help="PostgreSQL application role to grant.")] = None,
) -> None:
    """Apply the Alembic migrations (run as the owner role on PostgreSQL)."""
    migrate.upgrade(url=url, app_role=app_role, revision=revision)
    console.print(f"store at revision {migrate.current_revision(url=url)}")


@db_app.command("current")
def db_current(url: UrlOpt = None) -> None:
    """Show the store's revision and the newest one shipped."""
    console.print(f"current: {migrate.current_revision(url=url)}  head: {migrate.head_revision()}")
