"""``bridge grant …``: grant and revoke application role groups from the command line.

The commands call the same service functions as ``POST /grants`` and ``POST /grants/{id}/revoke``; each commits
the grant, its ledger row and its membership job together, and the worker (``bridge lock run``) applies the job
to Keycloak. A refusal is printed with its rule and written to the ledger as a ``refused`` row.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer
from rich.console import Console

from bridge.adapters.store.models import Grant
from bridge.domain.lock_reasons import parse_vn_date
from bridge.interfaces.cli.common import act_as
from bridge.services import exception_accounts, grants
from bridge.services.context import load_actor

console = Console()
grant_app = typer.Typer(help="Application role groups (cấp, thu hồi quyền phần mềm nghiệp vụ).", no_args_is_help=True)
AsOpt = Annotated[str, typer.Option("--as", help="E-mail of the administrator acting.")]
UrlOpt = Annotated[str | None, typer.Option("--url", help="Store URL (default: BRIDGE_STORE__URL).")]


def _show(grant: Grant) -> None:
    state = "thu hồi / revoked" if grant.revoked_at else "hiệu lực / active"
    console.print(f"#{grant.id} {grant.email} {grant.application}/{grant.role_group} [{state}] — "
                  "Keycloak: chờ tiến trình nền / pending the worker", markup=False, highlight=False)  # fmt: skip


@grant_app.command("request")
def request(
    email: Annotated[str, typer.Argument(help="Official e-mail of the person.")],
    application: Annotated[str, typer.Argument(help="Application code, e.g. TST.")],
    role_group: Annotated[str, typer.Argument(help="Role group, e.g. operator.")],
    actor: AsOpt,
    ref: Annotated[str | None, typer.Option(help="Phụ lục 01 reference.")] = None,
    url: UrlOpt = None,
) -> None:
    """Grant a role group to a person in my scope; the worker puts them into it in Keycloak."""
    _show(act_as(url, actor, "grant", lambda s, ctx: grants.request_grant(
        s, ctx=ctx, actor=load_actor(s, email=actor), email=email, application=application,
        role_group=role_group, request_ref=ref), default_target="grant"))  # fmt: skip


@grant_app.command("revoke")
def revoke(
    grant_id: Annotated[int, typer.Argument(help="The grant's number.")],
    actor: AsOpt,
    url: UrlOpt = None,
) -> None:
    """Revoke a grant in my scope; the worker takes the person out of the role group in Keycloak."""
    _show(act_as(url, actor, "revoke", lambda s, ctx: grants.revoke_grant(
        s, ctx=ctx, actor=load_actor(s, email=actor), grant_id=grant_id), default_target="revoke"))  # fmt: skip


@grant_app.command("exception-account")
def exception_account(
    email: Annotated[str, typer.Argument(help="E-mail of the person outside the directory.")],
    full_name: Annotated[str, typer.Argument(help="Họ và tên, family name first.")],
    unit_code: Annotated[str, typer.Argument(help="Unit the account belongs to.")],
    application: Annotated[str, typer.Argument(help="Application code, e.g. TST.")],
    role_group: Annotated[str, typer.Argument(help="Role group, e.g. operator.")],
    end_date: Annotated[str, typer.Argument(help="Ngày kết thúc, dd/mm/yyyy: the account is disabled that day.")],
    reason: Annotated[str, typer.Option(help="Why the account is needed (shown to leadership).")],
    actor: AsOpt,
    url: UrlOpt = None,
) -> None:
    """Ask leadership for an outsider's account (Công văn 907); approved, the worker creates it."""
    end: dt.date = parse_vn_date(end_date, field="end_date")
    request = act_as(url, actor, "exception-account", lambda s, ctx: exception_accounts.request_exception_account(
        s, ctx=ctx, actor=load_actor(s, email=actor), email=email, full_name=full_name, unit_code=unit_code,
        application=application, role_group=role_group, end_date=end, reason=reason,
    ), default_target="exception-account")  # fmt: skip
    console.print(f"#{request.id} chờ Lãnh đạo Ngành phê duyệt / awaiting leadership approval", markup=False)
