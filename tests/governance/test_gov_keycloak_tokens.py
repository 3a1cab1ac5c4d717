"""The governance API behind the real Keycloak 26 realm: tokens from a browser login of directory people.

Province A's administrator logs in through the realm (LDAP password) and the API, validating the token
against the realm's JWKS, lets them act in their province and answers 404 for province B; a token of another
audience or a forged one is a 401. Tokens come from the realm's own bridge UI client, whose audience mapper
adds the API's audience.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from bridge.adapters.directory.lookup import DirectoryPerson, SnapshotDirectory
from bridge.adapters.keycloak.admin import KeycloakAdmin
from bridge.adapters.store.migrate import upgrade
from bridge.adapters.store.models import LedgerEntry
from bridge.adapters.store.session import make_engine, transaction
from bridge.clock import today_vn
from bridge.domain.catalogue import Application, by_code
from bridge.domain.policy import AdminRole
from bridge.domain.role_levels import load_catalogue
from bridge.interfaces.api.app import create_app
from bridge.interfaces.api.auth import TokenValidator
from bridge.interfaces.api.deps import api_state
from bridge.services.context import GovContext, load_actor
from bridge.services.persons import appoint_administrator
from bridge.testbed.directory_gen import password_for
from bridge.testbed.relying_party import RelyingParty
from bridge.testbed.stack import Stack
from tests.api_overrides import fix_day

pytestmark = pytest.mark.integration
AUDIENCE = "bhxh-bridge-api"
from tests.integration.test_foundation import person_in, relying_party  # noqa: E402

CONFIG = Path(__file__).resolve().parents[2] / "keycloak-config"


@pytest.fixture(scope="module")
def ui(stack: Stack) -> RelyingParty:
    """The realm's console client (confidential, PKCE): its access tokens carry the API's audience."""
    return RelyingParty(issuer=f"{stack.settings.keycloak.url}/realms/{stack.units.realm}",
                        client_id="bhxh-bridge-ui", client_secret=stack.settings.ui.client_secret.get_secret_value(),
                        redirect_uri="http://127.0.0.1:8000/ui/callback")  # fmt: skip


@pytest.fixture(scope="module")
def api(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    day = today_vn()
    url = f"sqlite:///{tmp_path_factory.mktemp('kc-api') / 'bridge.sqlite3'}"
    upgrade(url=url)
    directory = SnapshotDirectory(
        DirectoryPerson(p.mail, p.full_name, p.unit_code, True, p.title) for p in stack.slapd.people
    )
    ctx = GovContext(stack.units, load_catalogue(CONFIG / "applications.yaml"), directory, day)
    engine = make_engine(url)
    factory = sessionmaker(engine, expire_on_commit=False)
    with transaction(factory) as session:
        it = person_in(stack, "00012")
        appoint_administrator(
            session, ctx=ctx, actor=None, email=it.mail, role=AdminRole.IT_CENTER_ADMIN, unit_code="00012"
        )
        hn = person_in(stack, "01")
        appoint_administrator(
            session,
            ctx=ctx,
            actor=load_actor(session, email=it.mail),
            email=hn.mail,
            role=AdminRole.PROVINCE_ADMIN,
            unit_code="01000",
        )
    issuer = f"{stack.settings.keycloak.url}/realms/{stack.units.realm}"
    validator = TokenValidator(issuer=issuer, audience=AUDIENCE, jwks_url=f"{issuer}/protocol/openid-connect/certs")
    app = create_app(factory=factory, directory=directory, validator=validator, config_dir=CONFIG)
    fix_day(app, day)
    return app


def test_province_admin_with_a_keycloak_token_acts_in_scope_only(stack: Stack, ui: RelyingParty, api: FastAPI) -> None:
    hn_admin, in_a, in_b = person_in(stack, "01"), person_in(stack, "01", 1), person_in(stack, "79")
    login = ui.login(hn_admin.mail, password_for(hn_admin.employee_number))
    headers = {"Authorization": f"Bearer {login.tokens['access_token']}"}
    with TestClient(api) as client:
        mine = client.get(f"/persons/{in_a.mail}", headers=headers)
        theirs = client.get(f"/persons/{in_b.mail}", headers=headers)
        grant = client.post(
            "/grants",
            headers=headers,
            json={"email": in_a.mail, "application": "TST", "role_group": "operator"},
        )
        refused = client.post(
            "/grants",
            headers=headers,
            json={"email": in_b.mail, "application": "TST", "role_group": "operator"},
        )
    assert mine.status_code == 200 and mine.json()["unit_code"] == in_a.unit_code
    assert theirs.status_code == 404
    assert grant.status_code == 201 and grant.json()["granted_by"] == hn_admin.mail
    assert refused.status_code == 404 and refused.json() == theirs.json() | {"detail": refused.json()["detail"]}
    with api_state(api).factory() as session:
        last = session.scalars(select(LedgerEntry).order_by(LedgerEntry.id.desc())).first()
    assert last is not None and (last.actor, last.outcome, last.rule) == (
        hn_admin.mail,
        "refused",
        "R5-province-out-of-scope",
    )


def test_tokens_of_another_audience_or_key_are_refused(
    stack: Stack, admin: KeycloakAdmin, apps: tuple[Application, ...], api: FastAPI
) -> None:
    person = person_in(stack, "01")
    tst_login = relying_party(admin, stack, by_code(apps, "TST")).login(
        person.mail, password_for(person.employee_number)
    )
    forger = RSAKey.generate_key(2048, parameters={"kid": "forged"}, private=True)
    now = int(dt.datetime.now(dt.UTC).timestamp())
    forged = jwt.encode(
        {"alg": "RS256", "kid": "forged"},
        {"iss": api_state(api).validator.issuer, "aud": AUDIENCE, "exp": now + 60, "email": person.mail},
        forger,
    )
    with TestClient(api) as client:
        other_audience = client.get("/grants", headers={"Authorization": f"Bearer {tst_login.tokens['access_token']}"})
        forged_key = client.get("/grants", headers={"Authorization": f"Bearer {forged}"})
    assert other_audience.status_code == 401 and "aud" in other_audience.json()["detail"]
    assert forged_key.status_code == 401
