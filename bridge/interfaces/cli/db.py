"""``bridge db …``: the bridge's store (SQLite or PostgreSQL) and its Alembic migrations."""

from __future__ import annotations

from typing import Annotated

import typer

from bridge.adapters.store import migrate
from bridge.interfaces.cli.common import UrlOpt, console

db_app = typer.Typer(help="The bridge's store (SQLite or PostgreSQL).", no_args_is_help=True)


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
