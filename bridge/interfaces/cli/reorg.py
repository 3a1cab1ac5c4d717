"""``bridge reorg plan|request|apply``: reorganisations that carry grants, from the command line.

The same service as ``/reorgs`` (docs/decisions/0701): the plan is printed first (Vietnamese labels, English
beside them), approval is by two central administrators (``bridge governance approve`` or the API), and apply
re-plans and refuses a plan that is not exactly the approved one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from bridge.domain.reorg import KINDS
from bridge.interfaces.cli.common import act_as
from bridge.services import reorg
from bridge.services.context import GovContext, load_actor
from bridge.settings import get_settings

console = Console()
reorg_app = typer.Typer(help="Sắp xếp tổ chức / reorganisations that carry grants.", no_args_is_help=True)
AsOpt = Annotated[str, typer.Option("--as", help="E-mail of the central administrator acting.")]
UrlOpt = Annotated[str | None, typer.Option("--url", help="Store URL (default: BRIDGE_STORE__URL).")]


def _print(shown: reorg.ShownPlan, title: str) -> None:
    plan = shown.plan
    console.print(f"{title}: đơn vị {plan.closed} → {', '.join(plan.successors) or '—'} "
                  f"ngày / day {plan.day:%d/%m/%Y}, plan {shown.plan_hash}", markup=False)  # fmt: skip
    table = Table(title="Kế hoạch chuyển / moves")
    for column in ("Loại / kind", "Khóa / key", "Thư điện tử / e-mail", "Từ / from", "Sang / to"):
        table.add_column(column)
    for m in plan.moves:
        table.add_row(KINDS[m.kind], m.key, m.email, m.from_unit, m.to_unit)
    console.print(table)
    for problem in plan.problems:
        console.print(f"Vấn đề / problem: {problem}", markup=False)
    for reason in shown.valve:
        console.print(f"Van an toàn / safety valve: {reason}", markup=False)
    if shown.approval is not None:
        console.print(f"Phê duyệt / approval #{shown.approval.id}: {shown.approval.status}")


def _work(
    service: Callable[..., reorg.ShownPlan], email: str, unit: str
) -> Callable[[Session, GovContext], reorg.ShownPlan]:
    limits = get_settings().sync
    return lambda session, ctx: service(
        session, ctx=ctx, actor=load_actor(session, email=email), closed=unit, limits=limits
    )


@reorg_app.command("plan")
def plan_cmd(unit: str, as_: AsOpt, url: UrlOpt = None) -> None:
    """Show the plan of a closed unit (nothing is written)."""
    shown = act_as(url, as_, "reorg.plan", _work(reorg.show_plan, as_, unit), default_target=f"unit:{unit}")
    _print(shown, "Kế hoạch / plan")


@reorg_app.command("request")
def request_cmd(unit: str, as_: AsOpt, url: UrlOpt = None) -> None:
    """Record the plan and ask two central administrators to approve it."""
    shown = act_as(url, as_, "reorg.request", _work(reorg.request_reorg, as_, unit), default_target=f"unit:{unit}")
    _print(shown, "Đã đề nghị / requested")


@reorg_app.command("apply")
def apply_cmd(unit: str, as_: AsOpt, url: UrlOpt = None) -> None:
    """Apply the approved plan in one transaction (ledgered per move)."""
    shown = act_as(url, as_, "reorg.apply", _work(reorg.apply_reorg, as_, unit), default_target=f"unit:{unit}")
    _print(shown, "Đã áp dụng / applied")
