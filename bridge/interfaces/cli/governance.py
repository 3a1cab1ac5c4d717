"""``bridge audit …``, ``bridge governance …`` and ``bridge explain``: the governance core from the command line.

``audit_app`` (``bridge audit …``), ``governance_app`` (``bridge governance
…``) and :func:`explain_command` (``bridge explain ACTOR ACTION TARGET``) call the same service functions as
the API, so an operator on the server and an administrator over HTTP are held to the same rules and leave the
same ledger rows.
"""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy import select

from bridge.adapters.store import ledger
from bridge.adapters.store.models import LedgerEntry
from bridge.adapters.store.session import session_factory, transaction
from bridge.domain.policy import Action, AdminRole
from bridge.errors import BridgeError
from bridge.interfaces.cli.common import DateOpt, UrlOpt, console, decision_context, fail
from bridge.services import audit, persons
from bridge.services.context import load_actor

audit_app = typer.Typer(help="The hash-chained audit ledger.", no_args_is_help=True)
governance_app = typer.Typer(help="Administrators and scope (Quy chế 2366 Điều 6).", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify(
    url: UrlOpt = None,
    expect_head: Annotated[str | None, typer.Option(help="A head hash published earlier.")] = None,
) -> None:
    """Check the whole chain; exit 1 naming the first broken row."""
    with session_factory(url)() as session:
        result = ledger.verify(session, expect_head=expect_head)
    if result.broken is not None:
        console.print(f"[red]BROKEN at row {result.broken.id}[/red]: {result.broken.problem}")
        raise typer.Exit(1)
    console.print(f"ledger intact: {result.rows} rows, head {result.head}")


@audit_app.command("show")
def audit_show(
    url: UrlOpt = None,
    target: Annotated[str | None, typer.Option(help="e.g. person:an.nv@hanoi.vss.gov.vn")] = None,
    after_id: int = 0,
    limit: int = 50,
) -> None:
    """Print ledger rows, oldest first."""
    with session_factory(url)() as session:
        query = select(LedgerEntry).where(LedgerEntry.id > after_id).order_by(LedgerEntry.id).limit(limit)
        if target:
            query = query.where(LedgerEntry.target == target)
        for row in session.scalars(query):
            console.print(
                f"{row.id:>6} {row.at:%Y-%m-%d %H:%M:%S} {row.outcome:<7} {row.rule:<28} {row.actor} "
                f"{row.action} {row.target}",
                highlight=False,
            )


def explain_command(
    actor: Annotated[str, typer.Argument(help="E-mail of the administrator who would act.")],
    action: Annotated[Action, typer.Argument(help="grant, revoke, lock, unlock, view, …")],
    target: Annotated[str, typer.Argument(help="E-mail of the person acted on.")],
    application: Annotated[str | None, typer.Option("--app")] = None,
    role_group: Annotated[str | None, typer.Option("--role")] = None,
    lock_reason: Annotated[str | None, typer.Option("--reason")] = None,
    on_date: DateOpt = None,
    url: UrlOpt = None,
) -> None:
    """Say which rule decides ACTION by ACTOR on TARGET, and why (nothing is changed)."""
    try:
        ctx = decision_context(on_date)
        with session_factory(url)() as session:
            decision = audit.explain(
                session, ctx=ctx, actor=load_actor(session, email=actor), action=action, email=target,
                application=application, role_group=role_group, lock_reason=lock_reason,
            )  # fmt: skip
    except BridgeError as exc:
        raise fail(exc) from None
    verdict = "[green]ALLOWED[/green]" if decision.allowed else "[red]REFUSED[/red]"
    console.print(f"{verdict} {decision.rule}\n{decision.reason}")


governance_app.command("explain")(explain_command)


@governance_app.command("appoint")
def appoint(
    email: Annotated[str, typer.Argument(help="E-mail of the new administrator.")],
    role: Annotated[AdminRole, typer.Argument()],
    unit: Annotated[str, typer.Argument(help="Unit code the role is scoped to.")],
    by: Annotated[str | None, typer.Option(help="Appointing IT Center administrator; omit to bootstrap.")] = None,
    on_date: DateOpt = None,
    url: UrlOpt = None,
) -> None:
    """Appoint an administrator (the first IT Center administrator is bootstrapped without --by)."""
    try:
        ctx = decision_context(on_date)
        with transaction(session_factory(url)) as session:
            actor = load_actor(session, email=by) if by else None
            persons.appoint_administrator(session, ctx=ctx, actor=actor, email=email, role=role, unit_code=unit)
    except BridgeError as exc:
        audit.record_refusal(
            session_factory(url), actor=by or "system:bootstrap", action="cli admin.appoint",
            target=f"person:{email}", rule=getattr(exc, "rule", None) or f"E-{exc.code}",
            detail={"role": role.value, "unit": unit, "message": exc.message},
        )  # fmt: skip
        raise fail(exc) from None
    console.print(f"{email} is now {role.value} of unit {unit}")
