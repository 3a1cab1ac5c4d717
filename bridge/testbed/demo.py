"""``make demo``: the whole bridge on this machine against the embedded defaults, and how to log in.

Starts slapd with a generated BHXH directory and Keycloak, applies keycloak-config/, provisions the directory
into Keycloak with the bridge's sync, gives Hà Nội's provincial administrator a console scope, then prints how
to log in as a staff member and as that administrator. Stops everything on Ctrl-C (or at once with --no-wait).
"""

from __future__ import annotations

import datetime as dt
import signal
import time
from typing import Annotated

import typer
from rich.console import Console
from rich.panel import Panel

from bridge.clock import format_vn, today_vn
from bridge.settings import PROJECT_ROOT
from bridge.testbed.directory_gen import Person, password_for
from bridge.testbed.stack import Stack, export_env, start_stack

console = Console()


def _run_sync(stack: Stack, day: dt.date) -> None:
    """Provision the directory into Keycloak and print the sync's summary (the bridge's main job)."""
    from bridge.adapters.store.migrate import upgrade
    from bridge.interfaces.cli.sync import print_summary, run_with_progress

    upgrade(url=stack.settings.store.url)
    console.print("Đồng bộ danh bạ → Keycloak / Sync: directory → Keycloak")
    print_summary(run_with_progress(stack.settings, stack.units, day=day, full=True, dry_run=False))


def _province_admin(stack: Stack) -> Person:
    return next(p for p in stack.slapd.people if p.unit_code == "01000" and p.title in ("Phó Giám đốc", "Chuyên viên"))


def main(
    size: Annotated[int, typer.Option(help="People in the generated directory")] = 2000,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Keep the servers up until Ctrl-C")] = True,
) -> None:
    """Bring up the demo stack, provision it, and print how to log in."""
    day = today_vn()
    started = time.monotonic()
    with console.status("Khởi động / Starting slapd + Keycloak and applying keycloak-config/ …"):
        stack = start_stack(size=size, day=day)
    try:
        console.print(f"Servers up and realm applied in {time.monotonic() - started:.0f} s ({format_vn(day)}).")
        _run_sync(stack, day)
        from bridge.adapters.keycloak.console_permissions import ensure_province_console_scope
        from bridge.adapters.keycloak.users import find_user_ids
        from bridge.services.keycloak_config import bootstrap_admin

        admin = bootstrap_admin(stack.settings, stack.units.realm)
        province_admin = _province_admin(stack)
        admin_id = find_user_ids(admin, province_admin.mail)[0]
        ensure_province_console_scope(admin, unit_code="01000", group_path="/units/01000", admin_user_ids=[admin_id])
        staff = next(p for p in stack.slapd.people if p.unit_code.startswith("79"))
        env_file = PROJECT_ROOT / "var" / "demo.env"
        env_file.parent.mkdir(exist_ok=True)
        export_env(stack, env_file)
        kc = stack.settings.keycloak.url
        console.print(
            Panel.fit(
                f"[bold]Cán bộ / Staff member[/] ({staff.full_name}, {staff.title}, đơn vị {staff.unit_code})\n"
                f"  {kc}/realms/bhxh/account\n  e-mail: {staff.mail}\n  mật khẩu / password: "
                f"{password_for(staff.employee_number)}\n\n"
                f"[bold]Quản trị viên BHXH TP Hà Nội / Provincial administrator[/] ({province_admin.full_name})\n"
                f"  {kc}/admin/bhxh/console/\n  e-mail: {province_admin.mail}\n  mật khẩu / password: "
                f"{password_for(province_admin.employee_number)}\n"
                "  manages only Hà Nội's units (docs/decisions/0003)\n\n"
                f"Bridge CLI against this stack: [cyan]source {env_file.relative_to(PROJECT_ROOT)}[/] then "
                f"[cyan]bridge keycloak apply --dry-run[/]\n"
                "(generated test passwords of a generated directory; the env file holds this run's secrets, mode 600)",
                title="Đăng nhập / How to log in",
            )
        )
        if wait:
            console.print("Ctrl-C to stop.")
            signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        stack.close()
        console.print("Stopped slapd and Keycloak.")


def run() -> None:
    """Entry point."""
    typer.run(main)


if __name__ == "__main__":
    run()
