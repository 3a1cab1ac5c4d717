"""The console watcher on the real Keycloak: out-of-scope console changes are reverted and audited.

A Hà Nội administrator who (by mistake) holds Keycloak's legacy ``manage-users`` role bypasses fine-grained
permissions entirely; the watcher, reading admin events with the bridge's own service account, judges each change
with the same scope policy as the API, reverts the refused ones and writes every change to the ledger.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bridge.adapters.directory.ldap import LdapDirectory
from bridge.adapters.keycloak.admin import KeycloakAdmin
from bridge.adapters.store import ledger
from bridge.adapters.store.migrate import upgrade
from bridge.adapters.store.models import Administrator, LedgerEntry
from bridge.adapters.store.session import session_factory
from bridge.services.console_watcher import ConsoleWatcher
from bridge.services.context import build_context
from bridge.testbed.directory_gen import password_for
from bridge.testbed.stack import Stack
from tests.integration.test_credentials import _console_token
from tests.integration.test_foundation import group_id, person_in, user_id

pytestmark = pytest.mark.integration


def make_watcher(stack: Stack, bridge_admin: KeycloakAdmin, sessions: sessionmaker[Session]) -> ConsoleWatcher:
    """The watcher as ``bridge console watch`` builds it: the bridge's service account, the real directory."""
    return ConsoleWatcher(
        admin=bridge_admin,
        sessions=sessions,
        ctx=build_context(stack.settings, directory=LdapDirectory(stack.settings.directory)),
        ignore_user_ids=frozenset({bridge_admin.own_user_id()}),
    )


def test_out_of_scope_console_changes_are_reverted_within_seconds_and_audited(
    stack: Stack, admin: KeycloakAdmin, bridge_admin: KeycloakAdmin, tmp_path: Path, today: dt.date
) -> None:
    import httpx

    url = f"sqlite:///{tmp_path / 'watch.sqlite3'}"
    upgrade(url=url)
    sessions = session_factory(url)
    rogue, own, foreign = person_in(stack, "01", 20), person_in(stack, "01", 21), person_in(stack, "79", 22)
    with sessions() as session, session.begin():
        session.add(
            Administrator(
                email=rogue.mail,
                role="province_admin",
                unit_code="01000",
                appointed_by="it.admin@vss.gov.vn",
                appointed_at=dt.datetime.now(dt.UTC),
            )
        )
    ids = {p.mail: user_id(bridge_admin, p) for p in (rogue, own, foreign)}
    rm = admin.get("clients", clientId="realm-management")[0]["id"]
    admin.post(f"users/{ids[rogue.mail]}/role-mappings/clients/{rm}", [admin.get(f"clients/{rm}/roles/manage-users")])
    watcher = make_watcher(stack, bridge_admin, sessions)
    stop = threading.Event()
    thread = threading.Thread(
        target=lambda: watcher.watch(day=lambda: today, interval_s=0.5, stop=stop.is_set), daemon=True
    )
    token = _console_token(stack, rogue.mail, password_for(rogue.employee_number))
    base = f"{stack.settings.keycloak.url}/admin/realms/bhxh"
    headers = {"Authorization": f"Bearer {token}"}
    thread.start()
    try:
        # in scope: a Hà Nội user disabled from the console stays disabled, and the change is in the ledger
        assert httpx.put(f"{base}/users/{ids[own.mail]}", headers=headers, json={"enabled": False}).status_code == 204
        # out of scope: FGAP is bypassed by the legacy role, Keycloak accepts, the watcher reverts
        changed_at = time.monotonic()
        assert (
            httpx.put(f"{base}/users/{ids[foreign.mail]}", headers=headers, json={"enabled": False}).status_code == 204
        )
        while admin.get(f"users/{ids[foreign.mail]}")["enabled"] is False and time.monotonic() - changed_at < 20:
            time.sleep(0.2)
        revert_s = time.monotonic() - changed_at
        hcm_group = group_id(admin, "/units/79000")
        assert httpx.put(f"{base}/users/{ids[own.mail]}/groups/{hcm_group}", headers=headers).status_code == 204
        deadline = time.monotonic() + 20
        while any(g["path"] == "/units/79000" for g in admin.get(f"users/{ids[own.mail]}/groups")):
            assert time.monotonic() < deadline, "membership in another province was not reverted"
            time.sleep(0.2)
    finally:
        stop.set()
        thread.join(timeout=10)
    print(f"console watcher: out-of-scope disable reverted {revert_s:.2f} s after Keycloak accepted it")
    assert admin.get(f"users/{ids[foreign.mail]}")["enabled"] is True
    assert revert_s < 5
    assert admin.get(f"users/{ids[own.mail]}")["enabled"] is False
    with sessions() as session:
        rows = session.scalars(select(LedgerEntry).where(LedgerEntry.actor == rogue.mail)).all()
        outcomes = {(r.action, r.target, r.outcome) for r in rows}
        assert ("console:lock", own.mail, "allowed") in outcomes
        assert ("console:lock", foreign.mail, "refused") in outcomes
        assert ("console:grant", own.mail, "refused") in outcomes
        assert all(r.detail["reverted"] == (r.outcome == "refused") for r in rows)
        check = ledger.verify(session)
        assert check.broken is None and check.rows == len(rows)
    bridge_admin.put(f"users/{ids[own.mail]}", {"enabled": True})


def test_console_permissions_are_generated_for_the_provincial_administrators_in_the_store(
    stack: Stack, admin: KeycloakAdmin, bridge_admin: KeycloakAdmin, tmp_path: Path
) -> None:
    import os
    import subprocess
    import sys

    import httpx

    url = f"sqlite:///{tmp_path / 'perm.sqlite3'}"
    upgrade(url=url)
    danang_admin, danang_user, hue_user = (
        person_in(stack, "48", 30),
        person_in(stack, "48", 31),
        person_in(stack, "46", 3),
    )
    with session_factory(url)() as session, session.begin():
        session.add(
            Administrator(
                email=danang_admin.mail,
                role="province_admin",
                unit_code="48000",
                appointed_by="it.admin@vss.gov.vn",
                appointed_at=dt.datetime.now(dt.UTC),
            )
        )
    ids = {p.mail: user_id(bridge_admin, p) for p in (danang_admin, danang_user, hue_user)}
    for person in (danang_user, hue_user):
        path = stack.units.group_path(person.unit_code, dt.date.today())
        bridge_admin.put(f"users/{ids[person.mail]}/groups/{group_id(bridge_admin, path)}", {})
    env = {**os.environ, **stack.env(), "BRIDGE_STORE__URL": url}
    out = subprocess.run(
        [sys.executable, "-m", "bridge", "console", "permissions"], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert "48000: 1" in out
    token = _console_token(stack, danang_admin.mail, password_for(danang_admin.employee_number))
    base = f"{stack.settings.keycloak.url}/admin/realms/bhxh"
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{base}/users/{ids[danang_user.mail]}", headers=headers).status_code == 200
    assert httpx.get(f"{base}/users/{ids[hue_user.mail]}", headers=headers).status_code == 403
