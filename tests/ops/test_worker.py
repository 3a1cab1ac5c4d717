"""``bridge worker`` as a real process on the real servers: it syncs, serves health and metrics, logs JSON
without secrets, and stops cleanly on SIGTERM. Two workers never sync at the same time."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from bridge.adapters.store.sync_models import SyncRun
from bridge.domain.units import UnitTree
from bridge.testbed.ports import free_port
from bridge.testbed.stack import Stack
from tests.integration.sync_world import World, sync_world

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def world(stack: Stack, units: UnitTree) -> Iterator[World]:
    with sync_world(stack, units, name="worker-realm", size=300, seed=61) as made:
        yield made


class Worker:
    """A ``bridge worker`` subprocess with its own health port and log file."""

    def __init__(self, world: World, log: Path) -> None:
        self.port = free_port()
        self.log = log
        env = {
            **os.environ,
            **world.env(),
            "BRIDGE_WORKER__HTTP_PORT": str(self.port),
            "BRIDGE_SYNC__WATCH_INTERVAL_S": "1",
            "BRIDGE_WORKER__WATCHER_INTERVAL_S": "0.5",
            "BRIDGE_WORKER__INGEST_INTERVAL_S": "2",
            "BRIDGE_WORKER__METRICS_INTERVAL_S": "1",
        }
        env.pop("BRIDGE_GOVERNANCE__DIRECTORY_SNAPSHOT", None)
        self.handle = log.open("wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "bridge", "worker"], env=env, stderr=self.handle)
        self.url = f"http://127.0.0.1:{self.port}"

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, timeout=10)

    def wait_for(self, path: str, status: int, timeout: float = 120) -> httpx.Response:
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"worker exited: {self.log.read_text()[-2000:]}"
            try:
                last = response = self.get(path)
                if response.status_code == status:
                    return response
            except httpx.HTTPError as exc:
                last = exc
            time.sleep(0.3)
        raise AssertionError(f"{path} never answered {status}: {last!r}")

    def stop(self) -> tuple[int, float]:
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=30)
        self.handle.close()
        return code, time.monotonic() - started


def _runs(world: World) -> list[SyncRun]:
    engine = create_engine(world.settings.store.url)
    with Session(engine) as session:
        runs = list(session.scalars(select(SyncRun).order_by(SyncRun.id)))
    engine.dispose()
    return runs


def test_the_worker_syncs_serves_health_and_metrics_and_stops_on_sigterm(world: World, tmp_path: Path) -> None:
    worker = Worker(world, tmp_path / "worker.log")
    try:
        assert worker.wait_for("/healthz", 200).json()["status"] == "ok"
        ready = worker.wait_for("/readyz", 200).json()
        assert {name for name, check in ready["checks"].items() if check["ok"]} == {"store", "keycloak", "directory"}
        deadline = time.monotonic() + 180
        while not [r for r in _runs(world) if r.status == "applied"] and time.monotonic() < deadline:
            time.sleep(1)
        applied = [r for r in _runs(world) if r.status == "applied"]
        assert applied and applied[0].mode == "full", [(r.mode, r.status) for r in _runs(world)]
        assert len(world.users(world.people[0].mail)) == 1, "the worker's sync created the directory's people"
        time.sleep(2.5)  # one more sync interval and a gauges refresh
        families = {f.name: f for f in text_string_to_metric_families(worker.get("/metrics").text)}
        runs = {(s.labels["mode"], s.labels["status"]): s.value for s in families["bridge_sync_runs"].samples
                if s.name == "bridge_sync_runs_total"}  # fmt: skip
        assert runs.get(("full", "applied"), 0) >= 1
        up = {s.labels["task"]: s.value for s in families["bridge_worker_task_up"].samples}
        failures = [line for line in worker.log.read_text(encoding="utf-8").splitlines() if '"error"' in line]
        assert up["scheduler"] == 1 and up["sync"] == 1 and up["console-watcher"] == 1, failures[-3:]
        assert {s.labels["queue"] for s in families["bridge_job_queue_depth"].samples} == {"lock", "grant"}
        for family in (
            "bridge_lock_jobs",
            "bridge_lock_applied_to_verified_seconds",
            "bridge_directory_read_errors",
            "bridge_console_watcher_lag_seconds",
            "bridge_sync_operations",
            "bridge_sync_duration_seconds",
        ):
            assert family in families, family  # fmt: skip
    finally:
        code, seconds = worker.stop()
    assert code == 0 and seconds <= 10, (code, seconds)
    lines = worker.log.read_text(encoding="utf-8").splitlines()
    events = [json.loads(line) for line in lines]  # every line is one JSON object
    assert any(e["event"].startswith("sync run") for e in events)
    assert any(e["event"] == "worker stopped" for e in events)
    text = "\n".join(lines)
    for secret in (world.settings.keycloak.client_secret, world.settings.directory.bind_password):
        assert secret.get_secret_value() not in text


def test_two_workers_never_sync_at_the_same_time(world: World, tmp_path: Path) -> None:
    before = len(_runs(world))
    first, second = Worker(world, tmp_path / "a.log"), Worker(world, tmp_path / "b.log")
    try:
        first.wait_for("/healthz", 200)
        second.wait_for("/healthz", 200)
        deadline = time.monotonic() + 60
        while len(_runs(world)) < before + 6 and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        first.stop()
        second.stop()
    runs = [r for r in _runs(world)[before:] if r.finished_at is not None]
    assert len(runs) >= 4
    for earlier, later in itertools.pairwise(runs):
        assert later.started_at >= earlier.finished_at, "two sync runs overlapped"
