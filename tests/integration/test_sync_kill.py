"""A ``bridge sync`` process killed (SIGKILL) mid-run; the rerun converges, with no duplicate user."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from bridge.adapters.store.session import session_factory, transaction
from bridge.adapters.store.sync_models import SyncOperation, SyncRun
from bridge.domain.units import UnitTree
from bridge.settings import PROJECT_ROOT
from bridge.testbed.stack import Stack
from tests.integration.sync_world import World, sync_world

pytestmark = pytest.mark.integration
SIZE = 400


@pytest.fixture(scope="module")
def world(stack: Stack, units: UnitTree) -> Iterator[World]:
    with sync_world(stack, units, name="sync-kill", size=SIZE, seed=13) as created:
        yield created


def recorded(world: World) -> int:
    with transaction(session_factory(world.settings.store.url)) as session:
        return int(
            session.scalar(select(func.count()).select_from(SyncOperation).where(SyncOperation.status == "applied"))
            or 0
        )


def test_killed_run_is_rerun_to_convergence_without_duplicates(world: World) -> None:
    env = {**os.environ, **world.env(), "PYTHONPATH": str(PROJECT_ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "bridge.interfaces.cli.sync", "sync", "--full"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=PROJECT_ROOT,
    )
    deadline = time.monotonic() + 120
    while recorded(world) < 100 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert process.poll() is None, "the run finished before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    killed_at = recorded(world)
    assert 100 <= killed_at < SIZE

    rerun = world.sync(full=True)
    assert rerun.status == "applied" and rerun.failed == []
    assert len(rerun.ops) <= SIZE - killed_at + 500  # what the killed run applied but had not yet recorded
    with transaction(session_factory(world.settings.store.url)) as session:
        statuses = [r.status for r in session.scalars(select(SyncRun).order_by(SyncRun.id))]
    assert statuses == ["running", "applied"]  # the killed run never finished

    counts = {person.mail: len(world.users(person.mail)) for person in world.people}
    assert set(counts.values()) == {1}  # every person exactly once
    assert world.admin.get("users/count") == SIZE  # service accounts are not counted
    assert world.sync(full=True).writes == 0
