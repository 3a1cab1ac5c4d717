"""The worker process: supervised tasks, a small HTTP server for health and metrics, a clean shutdown.

On SIGTERM (or SIGINT) every loop stops taking new work; work in hand gets ``worker.shutdown_grace_s`` to
finish, then is cancelled. Cancelling is safe: sync runs and jobs are idempotent and kill-safe (decisions 0203,
0300), and a lease that is not released simply lapses.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from types import FrameType

import uvicorn

from bridge.adapters.directory.ldap import LdapDirectory
from bridge.adapters.directory.lookup import DirectoryLookup
from bridge.interfaces.ops import ops_app
from bridge.interfaces.worker.supervisor import Task, supervise
from bridge.interfaces.worker.tasks import (
    admin_group_task,
    gauges_task,
    ingest_task,
    scheduler_task,
    sync_task,
    watcher_task,
)
from bridge.logs import configure_logging
from bridge.services.context import directory_for
from bridge.services.health import standard_probes
from bridge.services.leases import worker_name
from bridge.settings import Settings

log = logging.getLogger(__name__)


def worker_tasks(settings: Settings, *, holder: str, directory: DirectoryLookup) -> list[Task]:
    """Every task of a worker; the sync and the scheduler share the process's directory lookup."""
    return [
        sync_task(settings, holder=holder, directory=directory),
        scheduler_task(settings, directory=directory),
        watcher_task(settings, directory=directory),
        ingest_task(settings),
        admin_group_task(settings),
        gauges_task(settings),
    ]


async def run_worker(settings: Settings, *, tasks: list[Task] | None = None) -> None:
    """Run until SIGTERM/SIGINT: the tasks under supervision and ``/healthz``, ``/readyz``, ``/metrics``."""
    holder = worker_name()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(stop.set)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    directory = directory_for(settings)
    config = uvicorn.Config(
        ops_app(standard_probes(settings, directory=directory), process="worker"),
        host=settings.worker.http_host,
        port=settings.worker.http_port,
        log_config=None,
        lifespan="off",
        access_log=False,
    )
    server = uvicorn.Server(config)
    # uvicorn takes SIGTERM while it serves and hands it back to on_signal when it stops.
    serving = asyncio.create_task(server.serve())
    serving.add_done_callback(lambda _task: stop.set())
    chosen = tasks if tasks is not None else worker_tasks(settings, holder=holder, directory=directory)
    running = [
        asyncio.create_task(
            supervise(
                task,
                stop,
                backoff_s=settings.worker.restart_backoff_s,
                cap_s=settings.worker.restart_backoff_cap_s,
            ),
            name=task.name,
        )
        for task in chosen
    ]
    log.info("worker started", extra={"holder": holder, "tasks": [t.name for t in chosen]})
    await stop.wait()
    log.info("worker stopping", extra={"grace_s": settings.worker.shutdown_grace_s})
    server.should_exit = True
    _done, pending = await asyncio.wait(running, timeout=settings.worker.shutdown_grace_s)
    for task in pending:
        log.warning("cancelling work in hand", extra={"task_name": task.get_name()})
        task.cancel()
    if pending:
        await asyncio.wait(pending, timeout=2.0)
    with contextlib.suppress(asyncio.CancelledError, SystemExit):
        await asyncio.wait_for(serving, timeout=2.0)
    if isinstance(directory, LdapDirectory):
        directory.close()
    log.info("worker stopped")


def main(settings: Settings) -> None:
    """Entry point of ``bridge worker``."""
    configure_logging(settings.log_level)
    asyncio.run(run_worker(settings))
