"""On the real Keycloak: no application client can obtain an offline token, and the administrator group (whose
members must use TOTP) follows the bridge's administrators table, each change in the ledger (decisions 0600, 0602).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from sqlalchemy import select

from bridge.adapters.keycloak.admin import KeycloakAdmin
from bridge.adapters.store.models import LedgerEntry
from bridge.adapters.store.session import transaction
from bridge.domain.catalogue import Application
from bridge.domain.policy import AdminRole
from bridge.services import persons
from bridge.services.admin_second_factor import sync_administrator_group
from bridge.services.context import load_actor
from bridge.settings import StoreSettings
from bridge.testbed.stack import Stack
from tests.integration.test_foundation import group_id, person_in
from tests.integration.test_locks import IT_ADMIN, make_world

pytestmark = pytest.mark.integration
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_offline_access_is_refused_for_every_application_client(
    stack: Stack, apps: tuple[Application, ...], admin: KeycloakAdmin
) -> None:
    issuer = f"{stack.settings.keycloak.url}/realms/{stack.units.realm}"
    clients = [(a.client, a.redirect_uris[0]) for a in apps] + [("bhxh-bridge-ui", "http://127.0.0.1:8000/ui/callback")]
    for client_id, redirect in clients:
        answer = httpx.get(f"{issuer}/protocol/openid-connect/auth", params={
            "client_id": client_id, "response_type": "code", "scope": "openid offline_access", "state": "s",
            "redirect_uri": redirect, "code_challenge": CHALLENGE, "code_challenge_method": "S256"})  # fmt: skip
        assert answer.status_code == 302, (client_id, answer.status_code)
        query = parse_qs(urlparse(answer.headers["location"]).query)
        assert query["error"] == ["invalid_scope"], (client_id, query)
        client = admin.get("clients", clientId=client_id)[0]
        assert "offline_access" not in {s["name"] for s in admin.get(f"clients/{client['id']}/optional-client-scopes")}


def test_the_administrator_group_follows_the_administrators_table(
    stack: Stack, admin: KeycloakAdmin, apps: tuple[Application, ...], tmp_path: Path, today: dt.date
) -> None:
    world = make_world(stack, apps, f"sqlite:///{tmp_path / 'bridge.sqlite3'}", today)
    settings = stack.settings.model_copy(
        update={"store": StoreSettings(url=f"sqlite:///{tmp_path / 'bridge.sqlite3'}")}
    )
    appointed, intruder = person_in(stack, "01", 71), person_in(stack, "01", 72)
    with transaction(world.factory) as session:
        it_admin = load_actor(session, email=IT_ADMIN)
        persons.appoint_administrator(session, ctx=world.ctx(today), actor=it_admin, email=appointed.mail,
                                      role=AdminRole.PROVINCE_ADMIN, unit_code="01000")  # fmt: skip
    group = group_id(admin, "/bhxh-administrators")
    [intruder_user] = admin.get("users", email=intruder.mail, exact="true")
    admin.put(f"users/{intruder_user['id']}/groups/{group}", {})  # added by hand in the console

    first = sync_administrator_group(settings)
    assert first is not None
    assert appointed.mail in first.added and intruder.mail in first.removed
    assert {IT_ADMIN, "qt.lock@hanoi.vss.gov.vn"} <= set(first.without_user)  # not in the directory: no user
    members = {m["email"] for m in admin.get(f"groups/{group}/members", max=-1)}
    assert appointed.mail in members and intruder.mail not in members
    role_holders = {u["email"] for u in admin.get("roles/bhxh-administrator/users", max=-1)}
    assert not role_holders, "the role is held through the group, not given to users one by one"
    with world.factory() as session:
        rows = session.scalars(select(LedgerEntry).where(LedgerEntry.action.like("admin.second_factor.%"))).all()
    recorded = {(r.action, r.target, r.rule) for r in rows}
    assert ("admin.second_factor.require", f"person:{appointed.mail}", "R17-admin-second-factor") in recorded
    assert ("admin.second_factor.release", f"person:{intruder.mail}", "R17-admin-second-factor") in recorded
    assert len(rows) == len(first.added) + len(first.removed)
    second = sync_administrator_group(settings)
    assert second is not None and (second.added, second.removed) == ((), ())
