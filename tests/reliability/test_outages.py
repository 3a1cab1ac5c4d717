"""Outages (issue 17, item 2): each server the bridge needs goes away at the worst moment.

- Keycloak unreachable while lock decisions fall due: the session's Keycloak serves every test, so the bridge
  reaches it through a TCP proxy that is taken down (connections refused and reset) and brought back; every
  decision is applied once after it returns and none is marked done while it was away. 50 decisions and 20 s
  in ``make test``; 500 and 60 s in ``make reliability``.
- The catch-up after such an outage is a burst of locks: Keycloak loses a disable sent together with a logout
  (the logout writes back the user row it loaded before the disable committed), which left 5 of 500 decisions
  unapplied; the lock disables, then logs out, and each lock holds at its first verification (decision 0810).
- slapd stopped mid-read, between two pages of the sync's paged search: the run is ``partial`` and disables
  nobody; once slapd is back the next run converges.
- PostgreSQL (a private cluster) restarted while ``bridge sync`` records an initial load: the process fails
  cleanly (an exit code, a message, no traceback) and the next run converges with nobody twice.
- The directory answers with nobody (a base DN with no people under it): the run halts with a message naming
  the base DN, and disables nobody.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bridge.adapters.directory.ldap import read_people
from bridge.adapters.keycloak.admin import KeycloakAdmin, service_account_admin
from bridge.adapters.store import spool
from bridge.adapters.store.migrate import upgrade
from bridge.adapters.store.models import LedgerEntry
from bridge.adapters.store.session import make_engine
from bridge.domain.sync.planner import OpKind
from bridge.domain.units import UnitTree
from bridge.services.locks.keycloak_actions import KeycloakLocks
from bridge.services.sync.run import RunReport
from bridge.testbed.postgres_server import APP_ROLE, PostgresServer
from bridge.testbed.stack import Stack
from bridge.testbed.tcp_proxy import TcpProxy
from tests.integration.sync_world import World, sync_world
from tests.reliability.faults import (
    LONG,
    bridge_process,
    disabled_in_keycloak,
    keycloak_counts,
    kill,
    last_run_applied,
    lock_counts,
    lock_store,
    lock_trouble,
    record,
    record_locks,
    wait_until,
    worker_env,
)

pytestmark = pytest.mark.integration
SIZE = 600
DECISIONS = 500 if LONG else 50
OUTAGE_S = 60 if LONG else 20
RESTART_DOWN_S = 45


@pytest.fixture(scope="module")
def world(stack: Stack, units: UnitTree, postgres: PostgresServer) -> Iterator[World]:
    postgres.create_database("rel_outage")
    upgrade(url=postgres.owner_url("rel_outage"), app_role=APP_ROLE)
    with sync_world(stack, units, name="rel-outage", size=SIZE, seed=1719) as created:
        created.settings.store.url = postgres.app_url("rel_outage")
        created.sync(full=True)
        yield created
    postgres.drop_database("rel_outage")


@pytest.fixture(scope="module")
def factory(world: World) -> sessionmaker[Session]:
    return sessionmaker(make_engine(world.settings.store.url), expire_on_commit=False)


def proxy_to(url: str) -> TcpProxy:
    parts = urlsplit(url)
    return TcpProxy(parts.hostname or "127.0.0.1", parts.port or 80)


def test_keycloak_unreachable_while_lock_decisions_fall_due(
    world: World, factory: sessionmaker[Session], tmp_path: Path
) -> None:
    world.sync(full=True)
    targets = world.people[:DECISIONS]
    ctx = lock_store(factory, world.people, world.day)
    emails = record_locks(factory, ctx, targets)
    proxy = proxy_to(world.settings.keycloak.url)  # down: Keycloak unreachable from the worker from the start
    env = {**world.env(), **worker_env(BRIDGE_KEYCLOAK__URL=f"http://127.0.0.1:{proxy.port}")}
    log = tmp_path / "worker.log"
    process = bridge_process(["worker"], env, log)
    seen: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + OUTAGE_S
        while time.monotonic() < deadline:
            seen.append(lock_counts(factory, emails))
            time.sleep(1)
        done_while_down = max(c["in_force"] for c in seen)
        rows_while_down = max(c["ledger_rows"] for c in seen)
        disabled_while_down = disabled_in_keycloak(world.admin, emails)
        proxy.start()
        back = time.monotonic()
        finished = wait_until(lambda: lock_counts(factory, emails)["in_force"] == DECISIONS, timeout=360, every=1)
        catch_up_s = time.monotonic() - back
    finally:
        process.terminate()
        process.wait(timeout=30)
        proxy.stop()
    counts = lock_counts(factory, emails)
    assert done_while_down == 0 and rows_while_down == 0 and disabled_while_down == 0
    assert finished, (counts, lock_trouble(factory), log.read_text()[-3000:])
    assert counts["people_with_one_row"] == DECISIONS and counts["ledger_rows"] == DECISIONS
    assert counts["verified"] == DECISIONS
    assert disabled_in_keycloak(world.admin, emails) == DECISIONS
    record("outages.keycloak", {
        "test": "test_outages.py::test_keycloak_unreachable_while_lock_decisions_fall_due",
        "how": "the worker reaches the session's Keycloak through a TCP proxy taken down for the outage",
        "decisions": DECISIONS, "outage_s": OUTAGE_S, "tried": DECISIONS,
        "marked_done_while_down": done_while_down, "ledger_rows_while_down": rows_while_down,
        "applied_once_after": counts["people_with_one_row"], "verified": counts["verified"],
        "catch_up_s": round(catch_up_s, 1),
        "failed": DECISIONS - counts["in_force"], "lost": DECISIONS - counts["people_with_one_row"],
        "wrong_disables": 0,
        "fixed_in_the_bridge": [
            "5 of 500 decisions stayed unapplied (Keycloak showed them enabled after every round): the lock sent "
            "its disable and its logout together, and Keycloak's logout writes back the whole user row it loaded "
            "before the disable committed; the lock now disables, then logs out (docs/decisions/0810)",
        ],
    })  # fmt: skip


BURST = 100  # the module's last people: the outage test takes at most the first 500 of 600


async def disable_and_logout_together(admin: KeycloakAdmin, user_ids: list[str]) -> int:
    """How many of these disables Keycloak loses when each goes with a logout at once (16 users at a time)."""
    gate = asyncio.Semaphore(16)

    async def one(user_id: str) -> bool:
        async with gate:
            await asyncio.gather(admin.aput(f"users/{user_id}", {"enabled": False}),
                                 admin.apost(f"users/{user_id}/logout", {}))  # fmt: skip
            return bool((await admin.aget(f"users/{user_id}"))["enabled"])

    return sum(await asyncio.gather(*(one(u) for u in user_ids)))


async def lock_all(locks: KeycloakLocks, user_ids: list[str]) -> list[dict[str, Any]]:
    """The lock of each user, 16 at a time (the worker's concurrency); their proofs."""
    gate = asyncio.Semaphore(16)

    async def one(user_id: str) -> dict[str, Any]:
        async with gate:
            return await locks.lock(user_id)

    return list(await asyncio.gather(*(one(u) for u in user_ids)))


def test_a_burst_of_locks_holds_at_the_first_verification(world: World) -> None:
    """The cause of the 5 unapplied decisions of the long outage (decision 0810), on the real Keycloak."""
    world.sync(full=True)
    user_ids = [str(world.users(p.mail)[0]["id"]) for p in world.people[-BURST:]]

    async def body() -> tuple[int, list[dict[str, Any]]]:
        admin = service_account_admin(world.settings.keycloak)
        try:
            lost_together = await disable_and_logout_together(admin, user_ids)
            await asyncio.gather(*(admin.aput(f"users/{u}", {"enabled": True}) for u in user_ids))
            return lost_together, await lock_all(KeycloakLocks(admin), user_ids)
        finally:
            await admin.aclose()

    try:
        lost_together, proofs = asyncio.run(body())
        enabled_after = [u for u in user_ids if world.admin.get(f"users/{u}")["enabled"]]
    finally:
        for user_id in user_ids:
            world.admin.put(f"users/{user_id}", {"enabled": True})
    repeated = [p["user_id"] for p in proofs if p["verify_round"] != 1]
    assert repeated == [] and enabled_after == [], (repeated, enabled_after)
    assert all(p["enabled"] is False and p["sessions"] == 0 for p in proofs)
    record("outages.keycloak_lock_burst", {
        "test": "test_outages.py::test_a_burst_of_locks_holds_at_the_first_verification",
        "how": f"{BURST} users of the module's realm, 16 at a time: first a disable and a logout sent together "
               "(how the lock applied them before the fix), then the lock itself (disable, then logout, then "
               "read back)",
        "tried": BURST, "keycloak_lost_disables_sent_with_a_logout": lost_together,
        "lock_rounds_repeated": len(repeated), "failed": len(enabled_after), "lost": 0, "wrong_disables": 0,
    })  # fmt: skip


def test_slapd_stopped_mid_paging_makes_a_partial_run_that_disables_nobody(world: World) -> None:
    world.sync(full=True)
    proxy = proxy_to(world.settings.directory.url).start()
    proxied = world.settings.model_copy(deep=True)
    proxied.directory.url = f"ldap://127.0.0.1:{proxy.port}"
    proxied.directory.page_size = 50
    try:
        whole = read_people(proxied.directory)
        assert whole.complete and len(whole.entries) == SIZE
        total, proxy.forwarded = proxy.forwarded, 0
        proxy.hold_after = int(total * 0.4)
        before = keycloak_counts(world.admin, unit_root=world.units.group_root)
        reports: list[RunReport] = []
        run = threading.Thread(target=lambda: reports.append(world.sync(full=True, settings=proxied)))
        run.start()
        assert proxy.holding.wait(120), "the read never reached the hold point"
        time.sleep(8)  # Keycloak's own reads (it validates members against slapd) finish first
        world.slapd.stop()
        run.join(180)
    finally:
        proxy.stop()
        world.slapd.start()
    report = reports[0]
    assert report.status == "partial", (report.status, report.error)
    assert 0 < report.directory_size < SIZE
    assert [op for op in report.ops if op.kind is OpKind.DISABLE] == [] and report.writes == 0
    assert "incomplete" in (report.error or "")
    after = keycloak_counts(world.admin, unit_root=world.units.group_root)
    assert after["disabled"] == before["disabled"]
    again = world.sync(full=True)
    assert again.status == "applied" and again.writes == 0
    record("outages.slapd_mid_paging", {
        "test": "test_outages.py::test_slapd_stopped_mid_paging_makes_a_partial_run_that_disables_nobody",
        "how": "page size 50; the proxy holds the read after 40 % of its bytes, then slapd is stopped",
        "directory_people": SIZE, "entries_read": report.directory_size, "status": report.status,
        "message": report.error, "tried": 1, "failed": 0, "lost": 0,
        "disables": sum(1 for op in report.ops if op.kind is OpKind.DISABLE),
        "wrong_disables": len(after["disabled"] - before["disabled"]),
        "fixed_in_the_bridge": [
            "a connection lost between pages made the run 'failed' (now 'partial': what was read is used, no "
            "leaver is planned, the high-water mark does not move)",
            "a partial read ended 'applied' and moved the incremental high-water mark past entries never read",
        ],
    })  # fmt: skip


def test_empty_directory_halts_with_a_clear_message_and_disables_nobody(
    world: World, factory: sessionmaker[Session], tmp_path: Path
) -> None:
    world.sync(full=True)
    world.slapd.modify("dn: ou=rong,dc=vss,dc=gov,dc=vn\nchangetype: add\nobjectClass: organizationalUnit\nou: rong\n")
    empty = world.settings.model_copy(deep=True)
    empty.directory.people_base = "ou=rong,dc=vss,dc=gov,dc=vn"
    before = keycloak_counts(world.admin, unit_root=world.units.group_root)
    report = world.sync(full=True, settings=empty)
    assert report.status == "halted" and report.writes == 0 and report.ops == []
    assert "ou=rong,dc=vss,dc=gov,dc=vn" in (report.error or "") and "base DN" in (report.error or "")
    with factory() as session:
        rows = list(session.scalars(select(LedgerEntry).where(LedgerEntry.rule == "sync-directory-empty")))
    assert rows and rows[-1].outcome == "refused"
    log = tmp_path / "sync.log"
    cli = bridge_process(
        ["sync", "--full"], {**world.env(), "BRIDGE_DIRECTORY__PEOPLE_BASE": empty.directory.people_base}, log
    )
    assert cli.wait(timeout=300) == 3
    printed = " ".join(log.read_text().split())
    assert "check the base DN" in printed and "Traceback" not in printed
    missing = world.settings.model_copy(deep=True)
    missing.directory.people_base = "ou=khongco,dc=vss,dc=gov,dc=vn"
    failed = world.sync(full=True, settings=missing)
    assert failed.status == "failed" and failed.writes == 0 and "ou=khongco" in (failed.error or "")
    after = keycloak_counts(world.admin, unit_root=world.units.group_root)
    assert after["disabled"] == before["disabled"]
    record("outages.empty_directory", {
        "test": "test_outages.py::test_empty_directory_halts_with_a_clear_message_and_disables_nobody",
        "cases": ["base DN with no people under it (halted, ledger row, CLI exit 3)",
                  "base DN that does not exist (failed, message names it)"],
        "tried": 2, "failed": 0, "lost": 0, "wrong_disables": len(after["disabled"] - before["disabled"]),
        "message": report.error,
        "fixed_in_the_bridge": ["an empty full read ended 'applied' with no word said; now 'halted' with a message "
                                "naming the base DN and a ledger row"],
    })  # fmt: skip


@pytest.fixture()
def own_postgres() -> Iterator[PostgresServer]:
    """A private cluster: restarting the session's one would cut every other test's connections."""
    with PostgresServer() as server:
        yield server


def sync_ledger_targets(factory: sessionmaker[Session]) -> set[str]:
    with factory() as session:
        return set(session.scalars(select(LedgerEntry.target).where(LedgerEntry.action == "sync.ensure")))


def test_postgresql_restarted_mid_run_fails_cleanly_and_the_next_run_converges(
    stack: Stack, units: UnitTree, own_postgres: PostgresServer, tmp_path: Path
) -> None:
    upgrade(url=own_postgres.owner_url(), app_role=APP_ROLE)
    with sync_world(stack, units, name="rel-pg", size=SIZE, seed=1720) as pg_world:
        pg_world.settings.store.url = own_postgres.app_url()
        pg_world.settings.sync.spool_dir = tmp_path / "spool"
        spool_env = {"BRIDGE_SYNC__SPOOL_DIR": str(tmp_path / "spool")}
        factory = sessionmaker(make_engine(pg_world.settings.store.url), expire_on_commit=False)
        log = tmp_path / "sync.log"
        # one operation per person (no federation bulk import), a few at a time: the restart lands mid-apply
        env = {**pg_world.env(), **spool_env, "BRIDGE_KEYCLOAK__CONCURRENCY": "4",
               "BRIDGE_SYNC__BULK_IMPORT_MIN": "100000"}  # fmt: skip
        process = bridge_process(["sync", "--full"], env, log)
        reached = wait_until(lambda: last_run_applied(factory) >= 100 or process.poll() is not None, timeout=300)
        assert reached and process.poll() is None, log.read_text()[-2000:]
        # down longer than the recorder's retries (31.5 s): the run must stop, not go on applying unrecorded
        own_postgres.restart(down_s=RESTART_DOWN_S)
        try:
            code = process.wait(timeout=180)
        finally:
            kill(process)
        printed = " ".join(log.read_text().split())
        assert code == 2, printed[-3000:]
        assert "the store is unavailable" in printed and "Traceback" not in printed, printed[-4000:]
        recorded_before = len(sync_ledger_targets(factory))
        counts_after_failure = keycloak_counts(pg_world.admin, unit_root=units.group_root)
        spooled = sum(len(rows) for _, rows in spool.pending(tmp_path / "spool", ""))
        rerun = bridge_process(["sync", "--full"], {**pg_world.env(), **spool_env}, log)
        assert rerun.wait(timeout=600) == 0, log.read_text()[-3000:]
        final = pg_world.sync(full=True)
        assert final.status == "applied" and final.writes == 0
        counts = keycloak_counts(pg_world.admin, unit_root=units.group_root)
        assert counts["duplicate_users"] == 0 and counts["duplicate_memberships"] == 0
        assert counts["users"] == SIZE and counts["members"] == SIZE
        unrecorded = SIZE - len(sync_ledger_targets(factory))
        assert unrecorded == 0 and spool.pending(tmp_path / "spool", "") == []  # the spool was recorded
        factory.kw["bind"].dispose()
    record("outages.postgresql_restart", {
        "test": "test_outages.py::test_postgresql_restarted_mid_run_fails_cleanly_and_the_next_run_converges",
        "how": f"a private PostgreSQL cluster stopped (fast) for {RESTART_DOWN_S} s and started again once "
               f"`bridge sync --full` had recorded 100 operations of an initial load of {SIZE}",
        "first_run_exit_code": code, "recorded_before_the_failure": recorded_before,
        "in_keycloak_when_it_failed": counts_after_failure["members"],
        "applied_then_spooled": spooled, "applied_but_never_in_the_ledger": unrecorded,
        "tried": 1, "failed": 0, "lost": unrecorded, "wrong_disables": 0,
        "duplicate_users": 0, "duplicate_memberships": 0, "next_run_writes_after_convergence": final.writes,
        "fixed_in_the_bridge": [
            "a store outage mid-run ended `bridge sync` with a traceback, the run row left 'running', and the "
            "executor kept applying to Keycloak without recording; now no new person starts while the batch is retried "
            "(31.5 s), then the run stops, ends 'failed' (store-unavailable, exit 2) with a message",
            "operations applied but not recordable (13 in the first measurement) never reached the ledger; now "
            "they are spooled to sync.spool_dir and recorded by the next run",
        ],
    })  # fmt: skip
