"""Supervised worker tasks: a failing task is restarted with a growing wait; a stop ends every loop."""

from __future__ import annotations

import asyncio
import itertools
import time

from prometheus_client import REGISTRY

from bridge.interfaces.worker.supervisor import Task, every, supervise


def _sample(name: str, task: str) -> float:
    return REGISTRY.get_sample_value(name, {"task": task}) or 0.0


async def test_a_failing_task_is_restarted_with_a_doubling_wait_and_counted() -> None:
    stop = asyncio.Event()
    starts: list[float] = []

    async def flaky(_stop: asyncio.Event) -> None:
        starts.append(time.monotonic())
        if len(starts) < 4:
            raise RuntimeError("directory unreachable")
        await _stop.wait()

    errors_before = _sample("bridge_worker_task_errors_total", "flaky")
    runner = asyncio.create_task(supervise(Task("flaky", flaky), stop, backoff_s=0.05, cap_s=0.15))
    while len(starts) < 4:
        await asyncio.sleep(0.01)
    assert _sample("bridge_worker_task_up", "flaky") == 1.0
    stop.set()
    await asyncio.wait_for(runner, 1)
    waits = [b - a for a, b in itertools.pairwise(starts)]
    assert waits[0] >= 0.05 and waits[1] >= 0.1 and waits[2] >= 0.15, waits
    assert _sample("bridge_worker_task_errors_total", "flaky") - errors_before == 3
    assert _sample("bridge_worker_task_up", "flaky") == 0.0


async def test_stop_ends_a_periodic_task_after_its_unit_of_work() -> None:
    stop = asyncio.Event()
    finished: list[int] = []

    async def once() -> None:
        await asyncio.sleep(0.05)
        finished.append(1)

    runner = asyncio.create_task(supervise(Task("periodic", every(60.0, once)), stop))
    await asyncio.sleep(0.01)
    stop.set()
    started = time.monotonic()
    await asyncio.wait_for(runner, 1)
    assert finished == [1], "the unit of work in hand finished"
    assert time.monotonic() - started < 30, "the 60 s wait did not hold the stop back"
