"""``bridge init``: the one-shot set-up of an empty deployment (the ``bridge-init`` service of docker-compose.yml)."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from bridge.clock import today_vn
from bridge.errors import BridgeError
from bridge.interfaces.cli.common import console, decision_context, fail
from bridge.services.init import STEPS, init_steps
from bridge.settings import get_settings


def init_command(
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help=f"Run only this step (repeatable): {', '.join(STEPS)}."),
    ] = None,
) -> None:
    """Set up an empty deployment, in order: database roles and migrations, keycloak apply, console permissions,
    the first IT Center administrator. Every step is idempotent: a second run changes nothing."""
    try:
        steps = init_steps(get_settings(), day=today_vn(), context=decision_context, only=only)
    except BridgeError as exc:
        raise fail(exc) from None
    for index, step in enumerate(steps, 1):
        console.print(f"[bold][{index}/{len(steps)}] {step.name}[/]: {step.title} …", highlight=False)
        started = time.monotonic()
        try:
            detail = step.run()
        except BridgeError as exc:
            console.print(f"[bold red]{step.name} failed[/] after {time.monotonic() - started:.1f} s")
            raise fail(exc) from None
        console.print(f"    {detail} ({time.monotonic() - started:.1f} s)", highlight=False)
    console.print("bridge init: done.")
