"""What every ``bridge`` command shares: the console, the decision context, one way to fail, ``act_as``.

Each command group (grants, locks, reports, governance) parses its arguments and calls a service; the pieces
here make them behave alike: the same decision context as the API, the same red message naming the field, the
same ``refused`` ledger row when a command is refused.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from sqlalchemy.orm import Session

from bridge.adapters.store.session import session_factory, transaction
from bridge.errors import BridgeError
from bridge.services import audit
from bridge.services.context import GovContext, build_context, directory_for
from bridge.settings import get_settings

T = TypeVar("T")

console = Console()

UrlOpt = Annotated[str | None, typer.Option("--url", help="Store URL (default: BRIDGE_STORE__URL).")]
DateOpt = Annotated[str | None, typer.Option("--date", help="Decision date YYYY-MM-DD (default: today, VN).")]


def decision_context(on_date: str | None = None) -> GovContext:
    """The facts a scope decision needs, from the settings: unit tree, catalogue, the directory, the date."""
    settings = get_settings()
    day = dt.date.fromisoformat(on_date) if on_date else None
    return build_context(settings, directory=directory_for(settings), on_date=day)


def fail(exc: BridgeError) -> typer.Exit:
    """Print a domain error in red, naming its code and field, and return the exit (code 2) to raise."""
    field = f" (field: {exc.field})" if exc.field else ""
    console.print(f"[bold red]Lỗi / Error[/] ({exc.code}): {exc.message}{field}")
    return typer.Exit(2)


def act_as(
    url: str | None,
    actor_email: str,
    action: str,
    work: Callable[[Session, GovContext], T],
    *,
    default_target: str,
    on_refusal: Callable[[BridgeError], None] | None = None,
) -> T:
    """Run one command's ``work`` in one transaction; on refusal write the ``refused`` ledger row (in a
    transaction of its own), let ``on_refusal`` print details, and exit 2. Shared by the grant and lock CLIs."""
    try:
        ctx = decision_context()
        with transaction(session_factory(url)) as session:
            return work(session, ctx)
    except BridgeError as exc:
        audit.record_refusal(
            session_factory(url), actor=actor_email, action=action,
            target=str(getattr(exc, "target", None) or default_target)[:300],
            rule=getattr(exc, "rule", None) or f"E-{exc.code}",
            detail={"status": exc.status, "field": exc.field, "message": exc.message[:500]},
        )  # fmt: skip
        if on_refusal is not None:
            on_refusal(exc)
        raise fail(exc) from None
