"""Crash points (issue 17, item 1): ``bridge sync`` and ``bridge worker`` killed with SIGKILL at random points.

The sync is killed N times during an initial load of 2,000 people: a third of the kills at a random moment of
start-up, the directory read or the federation import, the others after a random number of operations, drawn
from what a dry run says is left so that every kill lands on a run with work. Then N times during a 5 % drift
(100 changes): each kill gets a fresh drift of its own, since one drift is applied in seconds and recorded every
0.5 s. A rerun must converge: every person once in Keycloak, no membership twice, the run after it writes
nothing, only leavers disabled. The worker is killed N times while it applies lock decisions; every decision
must end applied, verified and written to the ledger exactly once. N is 3 in ``make test`` and 20 in ``make
reliability`` (200 decisions instead of 30). Everything goes through the bridge's own commands (``python -m
bridge sync --full``, ``python -m bridge worker``) against a private realm on the session's Keycloak, a private
slapd and a database on the session's PostgreSQL.
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bridge.adapters.store.migrate import upgrade
from bridge.adapters.store.session import make_engine
from bridge.domain.units import UnitTree
from bridge.testbed.directory_gen import Person
from bridge.testbed.postgres_server import APP_ROLE, PostgresServer
from bridge.testbed.stack import Stack
from tests.integration.sync_world import World, new_person, sync_world
from tests.reliability.faults import (
    LONG,
    bridge_process,
    disabled_in_keycloak,
    keycloak_counts,
    kill,
    last_run_applied,
    lock_counts,
    lock_store,
    newest_run,
    record,
    record_locks,
    wait_until,
    worker_env,
)

pytestmark = pytest.mark.integration
SIZE = 2000
KILLS = 20 if LONG else 3
DECISIONS = 200 if LONG else 30
DRIFT = SIZE * 5 // 100  # 100 changes: a third joiners, a third movers, a third leavers


@pytest.fixture(scope="module")
def world(stack: Stack, units: UnitTree, postgres: PostgresServer) -> Iterator[World]:
    postgres.create_database("rel_crash")
    upgrade(url=postgres.owner_url("rel_crash"), app_role=APP_ROLE)
    with sync_world(stack, units, name="rel-crash", size=SIZE, seed=1717) as created:
        created.settings.store.url = postgres.app_url("rel_crash")
        yield created
    postgres.drop_database("rel_crash")


@pytest.fixture(scope="module")
def factory(world: World) -> sessionmaker[Session]:
    return sessionmaker(make_engine(world.settings.store.url), expire_on_commit=False)


def killed_runs(world: World, factory: sessionmaker[Session], rng: random.Random, *, log: Path,
                concurrency: int = 4) -> list[dict[str, Any]]:  # fmt: skip
    """KILLS runs of ``bridge sync --full``, each killed at a random point; what each kill hit.

    Before each run a dry run counts the operations left (a killed run may have applied operations it had not
    recorded yet, so the recorded counts overstate the work left). About a third of the kills land at a random
    moment of start-up, the directory and Keycloak reads and the federation import (0.5–3 s); the others when
    the run has recorded a random number of operations, at most the work left divided by the kills left plus
    one, so every kill lands on a run that still has work and the last kill still finds some.
    """
    points: list[dict[str, Any]] = []
    env = {**world.env(), "BRIDGE_KEYCLOAK__CONCURRENCY": str(concurrency)}
    in_start_up = set(rng.sample(range(KILLS), k=round(KILLS * 0.3)))
    for k in range(KILLS):
        left = len(world.sync(full=True, dry_run=True).ops)
        before = newest_run(factory)
        process = bridge_process(["sync", "--full"], env, log)
        started = time.monotonic()
        if k in in_start_up:
            delay = rng.uniform(0.5, 3.0)
            wait_until(lambda p=process: p.poll() is not None, timeout=delay)  # type: ignore[misc]
            point: dict[str, Any] = {"left": left, "after_s": round(delay, 1)}
        else:  # while applying
            target = rng.randint(1, max(1, left // (KILLS - k + 1)))
            wait_until(lambda t=target, p=process, b=before: last_run_applied(factory, after=b) >= t  # type: ignore[misc]
                       or p.poll() is not None, timeout=300, every=0.05)  # fmt: skip
            point = {"left": left, "after_ops": target}
        landed = kill(process)
        points.append({**point, "landed": landed, "exit": process.returncode,
                       "recorded": last_run_applied(factory, after=before),
                       "seconds": round(time.monotonic() - started, 1)})  # fmt: skip
    return points


def converge(world: World, log: Path) -> tuple[int, Any]:
    """The rerun through the CLI to its end, then one more run: (the rerun's exit code, the last report)."""
    rerun = bridge_process(["sync", "--full"], world.env(), log)
    code = rerun.wait(timeout=600)
    return code, world.sync(full=True)


def other_unit(unit_code: str, people: list[Any]) -> str:
    """Another unit of the same province when there is one (a move inside the province), else any other."""
    codes = sorted({p.unit_code for p in people} - {unit_code})
    same = [c for c in codes if c[:2] == unit_code[:2]]
    return (same or codes)[0]


def check_converged(world: World, people: int) -> dict[str, Any]:
    counts = keycloak_counts(world.admin, unit_root=world.units.group_root)
    assert counts["duplicate_users"] == 0
    assert counts["duplicate_memberships"] == 0
    assert counts["users"] == people and counts["members"] == people
    return {k: v for k, v in counts.items() if k not in ("emails", "disabled")}


#: What the initial-load test found, recorded with the drift test's findings under one key.
FOUND: dict[str, Any] = {}


def test_sync_killed_at_random_points_of_an_initial_load(
    world: World, factory: sessionmaker[Session], tmp_path: Path
) -> None:
    rng = random.Random(17)
    log = tmp_path / "sync.log"
    initial = killed_runs(world, factory, rng, log=log)
    print(json.dumps(initial), file=sys.stderr)
    assert sum(p["landed"] for p in initial) == KILLS, json.dumps(initial)  # every kill hit a running load
    code, after = converge(world, log)
    assert code == 0, log.read_text()[-3000:]
    assert after.status == "applied" and after.writes == 0 and after.ops == [], after.counts()
    FOUND["initial_load"] = {"kills": initial, "after": check_converged(world, SIZE), "second_run_writes": 0}


def drift(world: World, cycle: int, pool: list[Person]) -> tuple[list[Person], list[Person]]:
    """A 5 % drift in the directory: a third joiners, a third movers, a third leavers (taken from ``pool``);
    the joiners and the leavers."""
    third = DRIFT // 3
    joiners = [new_person(world.people[i], index=10_000 + 100 * cycle + i) for i in range(third)]
    movers = [pool.pop() for _ in range(third)]
    leavers = [pool.pop() for _ in range(DRIFT - 2 * third)]
    for person in joiners:
        world.add(person)
    for person in movers:
        world.set_unit(person, other_unit(person.unit_code, world.people))
    world.remove(*leavers)
    return joiners, leavers


def test_sync_killed_at_random_points_of_drift_runs(
    world: World, factory: sessionmaker[Session], tmp_path: Path
) -> None:
    """KILLS cycles: a fresh 5 % drift, ``bridge sync --full`` killed at a random point of it (start-up and
    reads, or after a random number of its operations), the rerun through the CLI, then a run that must write
    nothing. A drift of 100 operations is applied in a few seconds and recorded every 0.5 s, so killing one
    drift run KILLS times would leave nothing for most kills; each kill gets a drift of its own instead."""
    world.sync(full=True)  # every person in Keycloak (a no-op after the initial-load test)
    rng = random.Random(1717)
    log = tmp_path / "sync.log"
    spare = set(range(1000, 1000 + DECISIONS))  # the worker test's people stay in the directory
    pool = [p for i, p in enumerate(world.people) if i not in spare]
    rng.shuffle(pool)
    env = {**world.env(), "BRIDGE_KEYCLOAK__CONCURRENCY": "1"}  # the operations take long enough to land in
    kills: list[dict[str, Any]] = []
    joined: list[Person] = []
    left: list[Person] = []
    for cycle in range(KILLS):
        joiners, leavers = drift(world, cycle, pool)
        joined += joiners
        left += leavers
        before = newest_run(factory)
        process = bridge_process(["sync", "--full"], env, log)
        started = time.monotonic()
        if rng.random() < 0.3:  # start-up, the directory and Keycloak reads, the federation import
            delay = rng.uniform(0.5, 3.0)
            wait_until(lambda p=process: p.poll() is not None, timeout=delay)  # type: ignore[misc]
            point: dict[str, Any] = {"after_s": round(delay, 1)}
        else:
            target = rng.randint(1, int(DRIFT * 0.7))
            wait_until(lambda t=target, p=process, b=before: last_run_applied(factory, after=b) >= t  # type: ignore[misc]
                       or p.poll() is not None, timeout=300, every=0.05)  # fmt: skip
            point = {"after_ops": target}
        landed = kill(process)
        point |= {"landed": landed, "exit": process.returncode, "recorded": last_run_applied(factory, after=before),
                  "seconds": round(time.monotonic() - started, 1)}  # fmt: skip
        code, after = converge(world, log)
        point |= {"rerun_exit": code, "writes_after_rerun": after.writes}
        kills.append(point)
        print(json.dumps(point), file=sys.stderr)
        assert landed, point  # the kill hit a running drift run
        assert code == 0, log.read_text()[-3000:]
        assert after.status == "applied" and after.writes == 0 and after.ops == [], after.counts()
    final_counts = keycloak_counts(world.admin, unit_root=world.units.group_root)
    after_drift = check_converged(world, SIZE + len(joined))
    wrong_disables = final_counts["disabled"] - {p.mail for p in left}
    assert final_counts["disabled"] >= {p.mail for p in left} and not wrong_disables

    initial = FOUND.get("initial_load", {})
    tried = len(initial.get("kills", [])) + len(kills)
    record("crash_points.sync", {
        "test": "test_crash_points.py::test_sync_killed_at_random_points_of_an_initial_load, "
                "::test_sync_killed_at_random_points_of_drift_runs",
        "people": SIZE, "drift_changes_per_kill": DRIFT,
        "initial_load": initial,
        "drift": {"kills": kills, "joiners": len(joined), "leavers": len(left), "after": after_drift,
                  "second_run_writes": sum(k["writes_after_rerun"] for k in kills)},
        "tried": tried,
        "landed_on_a_running_process": sum(p["landed"] for p in initial.get("kills", []) + kills),
        "failed": 0, "lost": 0, "wrong_disables": len(wrong_disables),
        "duplicate_users": 0, "duplicate_memberships": 0, "second_run_writes": 0,
    })  # fmt: skip


def test_worker_killed_while_it_applies_lock_decisions(
    world: World, factory: sessionmaker[Session], tmp_path: Path
) -> None:
    world.sync(full=True)  # every person in Keycloak (a no-op when the test above ran)
    rng = random.Random(1718)
    targets = [p for p in world.people[1000 : 1000 + DECISIONS]]
    ctx = lock_store(factory, world.people, world.day)
    emails = record_locks(factory, ctx, targets)
    env = {**world.env(), **worker_env(BRIDGE_KEYCLOAK__CONCURRENCY="4")}
    log = tmp_path / "worker.log"
    points: list[dict[str, Any]] = []
    for _ in range(KILLS):
        done = lock_counts(factory, emails)["ledger_rows"]
        process = bridge_process(["worker"], env, log)
        if rng.random() < 0.25 or done >= DECISIONS - 3:
            delay = rng.uniform(1.0, 8.0)
            time.sleep(delay)
            point: dict[str, Any] = {"after_s": round(delay, 1)}
        else:
            target = rng.randint(done + 1, done + max(1, (DECISIONS - done) // 3))
            wait_until(lambda t=target: lock_counts(factory, emails)["ledger_rows"] >= t, timeout=180)  # type: ignore[misc]
            point = {"after_ledger_rows": target}
        landed = kill(process)
        points.append({**point, "landed": landed, "ledger_rows": lock_counts(factory, emails)["ledger_rows"]})
    assert all(p["landed"] for p in points), points
    process = bridge_process(["worker"], env, log)
    try:
        finished = wait_until(lambda: lock_counts(factory, emails)["in_force"] == DECISIONS, timeout=300, every=1)
    finally:
        process.terminate()
        process.wait(timeout=30)
    counts = lock_counts(factory, emails)
    assert finished, (counts, log.read_text()[-3000:])
    assert counts["people_with_one_row"] == DECISIONS and counts["people_with_several_rows"] == 0
    assert counts["ledger_rows"] == DECISIONS and counts["verified"] == DECISIONS
    assert disabled_in_keycloak(world.admin, emails) == DECISIONS
    record("crash_points.worker", {
        "test": "test_crash_points.py::test_worker_killed_while_it_applies_lock_decisions",
        "decisions": DECISIONS, "kills": points, "tried": DECISIONS,
        "applied_once": counts["people_with_one_row"], "verified": counts["verified"],
        "failed": DECISIONS - counts["in_force"], "lost": DECISIONS - counts["people_with_one_row"],
        "applied_twice": counts["people_with_several_rows"], "wrong_disables": 0,
    })  # fmt: skip
