"""A data-extraction request on the real servers: every actor logs in through the Keycloak 26 realm (LDAP
password of the generated directory in slapd), the API validates their tokens against the realm's JWKS, and the
store is the real PostgreSQL. The IT Center's delivery is refused before the unit's leadership and Lãnh đạo
Ngành approved (X5, ledgered), and accepted after them (Công văn 907).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from bridge.adapters.directory.lookup import DirectoryPerson, SnapshotDirectory
from bridge.adapters.store.migrate import upgrade
from bridge.adapters.store.models import LedgerEntry
from bridge.adapters.store.session import make_engine, transaction
from bridge.clock import today_vn
from bridge.domain.policy import AdminRole
from bridge.domain.role_levels import load_catalogue
from bridge.interfaces.api.app import create_app
from bridge.interfaces.api.auth import TokenValidator
from bridge.interfaces.api.deps import api_state
from bridge.services.context import GovContext, load_actor
from bridge.services.persons import appoint_administrator
from bridge.testbed.directory_gen import Person, password_for
from bridge.testbed.postgres_server import APP_ROLE, PostgresServer
from bridge.testbed.relying_party import RelyingParty
from bridge.testbed.stack import Stack
from tests.extractions.extraction_world import request_body
from tests.integration.test_foundation import person_in
from tests.integration.test_locks import CONFIG

pytestmark = pytest.mark.integration
AUDIENCE = "bhxh-bridge-api"


def cast(stack: Stack) -> dict[str, Person]:
    """Directory people in their roles: the IT Center's administrator, Hà Nội's administrator and leadership,
    BHXH Việt Nam's leadership."""
    return {"it": person_in(stack, "00012", 1), "hn": person_in(stack, "01", 61), "hn_lead": person_in(stack, "01", 62),
            "vss_lead": person_in(stack, "000", 7)}  # fmt: skip


@pytest.fixture()
def api(stack: Stack, postgres: PostgresServer) -> Iterator[FastAPI]:
    postgres.create_database("extraction_kc")
    upgrade(url=postgres.owner_url("extraction_kc"), app_role=APP_ROLE)
    factory = sessionmaker(make_engine(postgres.app_url("extraction_kc")), expire_on_commit=False)
    directory = SnapshotDirectory(DirectoryPerson(p.mail, p.full_name, p.unit_code) for p in stack.slapd.people)
    ctx = GovContext(stack.units, load_catalogue(CONFIG / "applications.yaml"), directory, today_vn())
    who = cast(stack)
    with transaction(factory) as session:
        appoint_administrator(session, ctx=ctx, actor=None, email=who["it"].mail, role=AdminRole.IT_CENTER_ADMIN,
                              unit_code="00012")  # fmt: skip
        it = load_actor(session, email=who["it"].mail)
        for key, role, unit in (("hn", AdminRole.PROVINCE_ADMIN, "01000"), ("hn_lead", AdminRole.LEADERSHIP, "01000"),
                                ("vss_lead", AdminRole.LEADERSHIP, "00000")):  # fmt: skip
            appoint_administrator(session, ctx=ctx, actor=it, email=who[key].mail, role=role, unit_code=unit)
    issuer = f"{stack.settings.keycloak.url}/realms/{stack.units.realm}"
    validator = TokenValidator(issuer=issuer, audience=AUDIENCE, jwks_url=f"{issuer}/protocol/openid-connect/certs")
    yield create_app(factory=factory, directory=directory, validator=validator, config_dir=CONFIG)
    factory.kw["bind"].dispose()
    postgres.drop_database("extraction_kc")


def test_refused_at_the_it_center_before_both_approvals_accepted_after_them_with_keycloak_logins(
    stack: Stack, api: FastAPI
) -> None:
    ui = RelyingParty(issuer=f"{stack.settings.keycloak.url}/realms/{stack.units.realm}",
                      client_id="bhxh-bridge-ui", client_secret=stack.settings.ui.client_secret.get_secret_value(),
                      redirect_uri="http://127.0.0.1:8000/ui/callback")  # fmt: skip
    who = cast(stack)
    headers = {
        key: {"Authorization": f"Bearer {ui.login(p.mail, password_for(p.employee_number)).tokens['access_token']}"}
        for key, p in who.items()
    }
    delivered = hashlib.sha256(b"ma_so_bhxh;ho_ten\n").hexdigest()
    with TestClient(api) as client:
        filed = client.post("/extractions", json=request_body(), headers=headers["hn"])
        assert filed.status_code == 201, filed.text
        url = f"/extractions/{filed.json()['id']}"
        fulfil = {"file_sha256": delivered, "channel": "sftp"}
        before = client.post(f"{url}/fulfilment", json=fulfil, headers=headers["it"])
        for leader in ("hn_lead", "vss_lead"):
            decided = client.post(f"{url}/decisions", json={"approve": True}, headers=headers[leader])
            assert decided.status_code == 200, decided.text
        after = client.post(f"{url}/fulfilment", json=fulfil, headers=headers["it"])
    assert (before.status_code, before.json()["rule"]) == (403, "X5-not-approved-yet")
    assert after.status_code == 200 and after.json()["status"] == "fulfilled"
    assert (after.json()["unit_approved_by"], after.json()["central_approved_by"], after.json()["processed_by"]) == (
        who["hn_lead"].mail, who["vss_lead"].mail, who["it"].mail)  # fmt: skip
    with api_state(api).factory() as session:
        trail = session.scalars(select(LedgerEntry).where(LedgerEntry.target == f"extraction:{filed.json()['id']}")
                                .order_by(LedgerEntry.id)).all()  # fmt: skip
    assert [(e.actor, e.outcome, e.rule) for e in trail] == [
        (who["hn"].mail, "allowed", "X1-unit-admin-files"),
        (who["it"].mail, "refused", "X5-not-approved-yet"),
        (who["hn_lead"].mail, "allowed", "X2-unit-leadership-approves"),
        (who["vss_lead"].mail, "allowed", "X3-central-leadership-approves"),
        (who["it"].mail, "allowed", "X4-it-center-processes"),
    ]
