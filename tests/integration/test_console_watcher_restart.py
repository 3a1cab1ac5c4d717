"""The console watcher killed and restarted loses nothing and judges nothing twice (real servers, PostgreSQL).

``bridge console watch`` runs as a subprocess on a PostgreSQL store. A Hà Nội administrator holding the legacy
``manage-users`` role makes a burst of console changes — locks of Hà Nội people (allowed), a lock of a TP HCM
person (refused, reverted), role-group grants (accepted as grants) and escalations (refused, reverted). The
watcher is SIGKILLed in the middle of its backlog, more changes are made while it is down, and a new process
resumes from the store's cursor: every admin event of the burst has exactly one ledger row, the chain holds,
and every refused change is reverted.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bridge.adapters.keycloak.admin import KeycloakAdmin
from bridge.adapters.store import ledger
from bridge.adapters.store.migrate import upgrade
from bridge.adapters.store.models import Grant, LedgerEntry
from bridge.adapters.store.session import make_engine
from bridge.services.console_cursor import open_cursor
from bridge.services.console_watcher import RESOURCE_TYPES, parse_event
from bridge.testbed.postgres_server import APP_ROLE, PostgresServer
from bridge.testbed.stack import Stack
from tests.integration.test_console_grants import appoint, bearer, in_unit_group, paths, wait_for
from tests.integration.test_foundation import group_id, person_in

pytestmark = pytest.mark.integration


@pytest.fixture()
def store(postgres: PostgresServer) -> Iterator[tuple[str, sessionmaker[Session]]]:
    postgres.create_database("watcher_restart")
    upgrade(url=postgres.owner_url("watcher_restart"), app_role=APP_ROLE)
    url = postgres.app_url("watcher_restart")
    engine = make_engine(url)
    yield url, sessionmaker(engine, expire_on_commit=False)
    engine.dispose()
    postgres.drop_database("watcher_restart")


def start_watcher(stack: Stack, url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, **stack.env(), "BRIDGE_STORE__URL": url}
    command = [sys.executable, "-m", "bridge", "console", "watch", "--interval", "0.2"]
    return subprocess.Popen(command, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)


def ledger_rows(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(LedgerEntry)) or 0)


def test_the_watcher_killed_mid_burst_and_restarted_judges_every_event_exactly_once(
    stack: Stack,
    admin: KeycloakAdmin,
    bridge_admin: KeycloakAdmin,
    store: tuple[str, sessionmaker[Session]],
    tmp_path: Path,
    today: dt.date,
) -> None:
    url, sessions = store
    rogue = person_in(stack, "01", 100)
    own = [person_in(stack, "01", 101 + i) for i in range(6)]
    foreign = [person_in(stack, "79", 100 + i) for i in range(2)]
    appoint(sessions, rogue, "01000")
    ids = {p.mail: in_unit_group(stack, bridge_admin, p, today) for p in (rogue, *own, *foreign)}
    rm = admin.get("clients", clientId="realm-management")[0]["id"]
    legacy = [admin.get(f"clients/{rm}/roles/manage-users")]
    admin.post(f"users/{ids[rogue.mail]}/role-mappings/clients/{rm}", legacy)
    base = f"{stack.settings.keycloak.url}/admin/realms/bhxh"
    headers = bearer(stack, rogue)
    groups = {path: group_id(admin, path) for path in ("/apps/TST/operator", "/apps/KT/accountant", "/apps/TST/admin")}
    start_ms = int(time.time() * 1000)
    open_cursor(sessions, realm=stack.units.realm, start_ms=start_ms)  # where the watcher of this store begins

    def burst(people: list[str]) -> None:
        for mail in people:
            uid = ids[mail]
            assert httpx.put(f"{base}/users/{uid}", headers=headers, json={"enabled": False}).status_code == 204
            for path in ("/apps/TST/operator", "/apps/TST/admin"):
                assert httpx.put(f"{base}/users/{uid}/groups/{groups[path]}", headers=headers).status_code == 204

    log = tmp_path / "watch.log"
    try:
        # a backlog before the watcher starts: 4 people x (lock, grant, escalation) + a foreign lock and grant
        burst([p.mail for p in own[:4]] + [foreign[0].mail])
        first = start_watcher(stack, url, log)
        try:
            wait_for(lambda: ledger_rows(sessions) >= 4, timeout_s=60, what="the first watcher judging")
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        judged_before_kill = ledger_rows(sessions)
        # more changes while no watcher runs
        burst([p.mail for p in own[4:]] + [foreign[1].mail])
        assert httpx.put(f"{base}/users/{ids[own[0].mail]}", headers=headers, json={"enabled": True}).status_code == 204
        events = [
            e
            for e in admin.get(
                "admin-events", authUser=ids[rogue.mail], dateFrom=str(start_ms), max=1000,
                resourceTypes=list(RESOURCE_TYPES),
            )
            if parse_event(e) is not None
        ]  # fmt: skip
        assert len(events) == 8 * 3 + 1
        second = start_watcher(stack, url, log)
        try:
            resumed_s = wait_for(lambda: ledger_rows(sessions) >= len(events), timeout_s=60, what="all events judged")
            time.sleep(1.0)  # a second look: nothing judged twice after the backlog
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(15) == 0, log.read_text()[-2000:]
        for person in foreign:  # refused changes were reverted
            assert admin.get(f"users/{ids[person.mail]}")["enabled"] is True
            assert not {"/apps/TST/operator", "/apps/TST/admin"} & paths(admin, ids[person.mail])
        for person in own:
            assert {"/apps/TST/operator", "/apps/TST/admin"} & paths(admin, ids[person.mail]) == {"/apps/TST/operator"}
    finally:
        admin.delete(f"users/{ids[rogue.mail]}/role-mappings/clients/{rm}", legacy)
        for person in (*own, *foreign):
            bridge_admin.put(f"users/{ids[person.mail]}", {"enabled": True})
            for path in ("/apps/TST/operator", "/apps/TST/admin"):
                bridge_admin.delete(f"users/{ids[person.mail]}/groups/{groups[path]}")
    print(
        f"watcher SIGKILLed after {judged_before_kill} of {len(events)} events; the restarted watcher judged the rest "
        f"in {resumed_s:.2f} s"
    )
    assert 0 < judged_before_kill < len(events)

    with sessions() as session:
        rows = session.scalars(select(LedgerEntry).order_by(LedgerEntry.id)).all()
        per_event = Counter(str(r.detail.get("event_id")) for r in rows)
        assert per_event == Counter({str(e["id"]): 1 for e in events}), "every event judged exactly once"
        assert ledger.verify(session).broken is None
        outcomes = Counter((r.action, r.outcome, r.rule) for r in rows)
        grants = session.scalars(select(Grant)).all()
    assert outcomes == {
        ("console:lock", "allowed", "R4-province-own-units"): 6,
        ("console:unlock", "allowed", "R4-province-own-units"): 1,
        ("console:lock", "refused", "R5-province-out-of-scope"): 2,
        ("grant", "allowed", "R4-province-own-units"): 6,
        ("console:grant", "refused", "R5-province-out-of-scope"): 2,
        ("console:grant", "refused", "R10-no-escalation"): 8,
    }
    assert sorted(g.email for g in grants) == sorted(p.mail for p in own)
