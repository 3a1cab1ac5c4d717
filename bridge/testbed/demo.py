"""``make demo``: the whole bridge on this machine against the embedded defaults, and how to log in.

Starts slapd with a generated BHXH directory and Keycloak, applies keycloak-config/, provisions the directory
into Keycloak with the bridge's sync, appoints an IT Center administrator and Hà Nội's provincial
administrator (with a console scope), then runs the two processes of the bridge as they run in production —
``bridge serve`` (the API) and ``bridge worker`` (sync, scheduler, console watcher, login ingestion) — on the
SQLite store, serves the sample business application (examples/business-app/) as TST and TNHS, and prints
where staff log in and where each process answers. Stops everything on Ctrl-C (or at once
with --no-wait, after checking both processes are ready).
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import httpx
import typer
from pydantic import SecretStr
from rich.console import Console
from rich.panel import Panel

from bridge.clock import format_vn, today_vn
from bridge.settings import PROJECT_ROOT, UiSettings
from bridge.testbed.business_apps import business_apps
from bridge.testbed.directory_gen import Person, password_for
from bridge.testbed.ports import free_port, stop_group, wait_until
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


def _appoint(stack: Stack, day: dt.date, it_admin: Person, province_admin: Person) -> None:
    """The IT Center administrator (bootstrap) appoints Hà Nội's provincial administrator, as bridge init would."""
    from bridge.adapters.store.session import session_factory, transaction
    from bridge.domain.policy import AdminRole
    from bridge.services.context import build_context, directory_for, load_actor
    from bridge.services.persons import appoint_administrator

    ctx = build_context(stack.settings, directory=directory_for(stack.settings), on_date=day)
    with transaction(session_factory(stack.settings.store.url)) as session:
        appoint_administrator(
            session, ctx=ctx, actor=None, email=it_admin.mail, role=AdminRole.IT_CENTER_ADMIN, unit_code="00012"
        )
        session.flush()
        appoint_administrator(
            session,
            ctx=ctx,
            actor=load_actor(session, email=it_admin.mail),
            email=province_admin.mail,
            role=AdminRole.PROVINCE_ADMIN,
            unit_code="01000",
        )


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def _processes(stack: Stack, *, api_port: int, ui: UiSettings) -> Iterator[tuple[str, str]]:
    """``bridge serve`` (the API and the web console) and ``bridge worker`` on free ports, ready (``/readyz``
    green) when yielded."""
    worker_port = free_port()
    env = {
        **os.environ,
        **stack.env(),
        "BRIDGE_API__PORT": str(api_port),
        "BRIDGE_API__WORKERS": "1",
        "BRIDGE_WORKER__HTTP_PORT": str(worker_port),
        "BRIDGE_UI__BASE_URL": ui.base_url,
        "BRIDGE_UI__SESSION_SECRET": ui.session_secret.get_secret_value(),
    }
    env.pop("BRIDGE_GOVERNANCE__DIRECTORY_SNAPSHOT", None)
    logs = PROJECT_ROOT / "var"
    started: list[subprocess.Popen[bytes]] = []
    try:
        for name in ("serve", "worker"):
            with (logs / f"demo-{name}.log").open("wb") as log:
                command = [sys.executable, "-m", "bridge", name]
                started.append(subprocess.Popen(command, env=env, stderr=log, start_new_session=True))
        urls = (f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{worker_port}")
        for url, process in zip(urls, started, strict=True):
            wait_until(
                lambda url=url: _ready(url),  # type: ignore[misc]
                timeout=120,
                what=f"{url}/readyz",
                alive=lambda process=process: process.poll() is None,  # type: ignore[misc]
            )
        yield urls
    finally:
        for process in started:
            stop_group(process, timeout=15)


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
        it_admin = next(p for p in stack.slapd.people if p.unit_code == "00012")
        _appoint(stack, day, it_admin, province_admin)
        admin_id = find_user_ids(admin, province_admin.mail)[0]
        ensure_province_console_scope(admin, unit_code="01000", group_path="/units/01000", admin_user_ids=[admin_id])
        staff = next(p for p in stack.slapd.people if p.unit_code.startswith("79"))
        for path in ("/apps/TST/operator", "/apps/TNHS/operator"):  # the demo's staff member may use both apps
            admin.put(
                f"users/{find_user_ids(admin, staff.mail)[0]}/groups/{admin.get(f'group-by-path{path}')['id']}", {}
            )
        env_file = PROJECT_ROOT / "var" / "demo.env"
        env_file.parent.mkdir(exist_ok=True)
        export_env(stack, env_file)
        kc = stack.settings.keycloak.url
        # the console's client in the realm redirects to this run's `bridge serve` (its port is chosen now)
        api_port = free_port()
        ui = stack.settings.ui.model_copy(
            update={"base_url": f"http://127.0.0.1:{api_port}", "session_secret": SecretStr(secrets.token_urlsafe(32))}
        )
        settings = stack.settings.model_copy(update={"ui": ui})
        with (
            console.status("bridge serve + bridge worker + sample applications …"),
            _processes(stack, api_port=api_port, ui=ui) as (api, worker),
            business_apps(settings) as apps,
        ):
            console.print(
                Panel.fit(
                    f"[bold]Cán bộ / Staff member[/] ({staff.full_name}, {staff.title}, đơn vị {staff.unit_code})\n"
                    f"  ứng dụng / applications: TST {apps['TST'].url}/  ·  TNHS {apps['TNHS'].url}/ (single sign-on)\n"
                    f"  {kc}/realms/bhxh/account\n  e-mail: {staff.mail}\n  mật khẩu / password: "
                    f"{password_for(staff.employee_number)}\n\n"
                    f"[bold]Quản trị viên Trung tâm CNTT / IT Center administrator[/] ({it_admin.full_name})\n"
                    f"  bảng điều khiển / web console {api}/ui/\n"
                    f"  API {api}/docs (token from the realm's bhxh-bridge-ui client)\n  e-mail: {it_admin.mail}\n"
                    f"  mật khẩu / password: {password_for(it_admin.employee_number)}\n\n"
                    f"[bold]Quản trị viên BHXH TP Hà Nội / Provincial administrator[/] ({province_admin.full_name})\n"
                    f"  bảng điều khiển / web console {api}/ui/  ·  Keycloak {kc}/admin/bhxh/console/\n"
                    f"  e-mail: {province_admin.mail}\n  mật khẩu / password: "
                    f"{password_for(province_admin.employee_number)}\n"
                    "  manages only Hà Nội's units (docs/decisions/0003)\n"
                    "  administrators set up a TOTP authenticator at their first login (docs/decisions/0600)\n\n"
                    f"[bold]bridge serve[/]  {api}  (/readyz, /metrics; log var/demo-serve.log)\n"
                    f"[bold]bridge worker[/] {worker}  (/readyz, /metrics; log var/demo-worker.log)\n\n"
                    f"Bridge CLI against this stack: [cyan]source {env_file.relative_to(PROJECT_ROOT)}[/] then "
                    f"[cyan]bridge keycloak apply --dry-run[/]\n"
                    "(generated test passwords of a generated directory; the env file holds this run's secrets, "
                    "mode 600)",
                    title="Đăng nhập / How to log in",
                )
            )
            if wait:
                console.print("Ctrl-C to stop.")
                signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        stack.close()
        console.print("Stopped the bridge, slapd and Keycloak.")


def run() -> None:
    """Entry point."""
    typer.run(main)


if __name__ == "__main__":
    run()
