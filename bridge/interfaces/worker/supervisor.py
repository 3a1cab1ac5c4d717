"""Supervised tasks: a task that fails is logged, counted and restarted after a growing wait.

The worker's tasks (sync, scheduler, console watcher, login ingestion) are independent: Keycloak being down
must not stop the watcher's cursor from being kept, nor a directory outage stop locks falling due. Each runs
under :func:`supervise`; a shutdown (``stop`` set) ends every loop after its unit of work in hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bridge.logs import log_context
from bridge.metrics import TASK_ERRORS, TASK_RESTARTS, TASK_UP

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Task:
    """A named loop: ``run(stop)`` works until ``stop`` is set (returning early means "run me again")."""

    name: str
    run: Callable[[asyncio.Event], Awaitable[None]]


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Wait ``seconds``, or less if ``stop`` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=max(seconds, 0.0))


def every(seconds: float, once: Callable[[], Awaitable[object]]) -> Callable[[asyncio.Event], Awaitable[None]]:
    """A loop that runs ``once`` and then waits ``seconds``, until stopped."""

    async def loop(stop: asyncio.Event) -> None:
        while not stop.is_set():
            await once()
            await sleep_or_stop(stop, seconds)

    return loop


async def supervise(task: Task, stop: asyncio.Event, *, backoff_s: float = 1.0, cap_s: float = 60.0) -> None:
    """Run ``task`` until ``stop``; after an error, log it, count it and restart it (waits double up to cap)."""
    delay = backoff_s
    with log_context(task=task.name):
        while not stop.is_set():
            TASK_UP.labels(task.name).set(1)
            try:
                await task.run(stop)
                delay = backoff_s
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                TASK_UP.labels(task.name).set(0)
                TASK_ERRORS.labels(task.name).inc()
                log.exception("task failed, restarting in %.0f s", delay, extra={"error_type": type(exc).__name__})
                await sleep_or_stop(stop, delay)
                delay = min(cap_s, delay * 2)
                if not stop.is_set():
                    TASK_RESTARTS.labels(task.name).inc()
        TASK_UP.labels(task.name).set(0)
