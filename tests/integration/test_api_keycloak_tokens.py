"""The bridge API with access tokens issued by the real Keycloak (through the real login form).

A provincial administrator logs into the bridge UI client; the API validates the token against the realm's JWKS
(issuer, audience, expiry, RS256) and answers with the people of the administrator's province only. A token
issued to a business application (wrong audience) is refused.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bridge.api.app import create_app
from bridge.api.auth import TokenValidator
from bridge.catalogue import Application, by_code
from bridge.governance.directory import DirectoryPerson, SnapshotDirectory
from bridge.store.migrate import upgrade
from bridge.store.models import Administrator
from bridge.store.session import session_factory
from bridge.testbed.directory_gen import password_for
from bridge.testbed.relying_party import RelyingParty
from bridge.testbed.stack import Stack
from provisioning.keycloak.admin import KeycloakAdmin
from tests.integration.test_foundation import person_in, relying_party

pytestmark = pytest.mark.integration


def test_keycloak_token_of_a_province_admin_sees_only_the_province(
    stack: Stack, admin: KeycloakAdmin, apps: tuple[Application, ...], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'api.sqlite3'}"
    upgrade(url=url)
    province_admin = person_in(stack, "46", 2)  # BHXH thành phố Huế
    with session_factory(url)() as session, session.begin():
        session.add(
            Administrator(
                email=province_admin.mail,
                role="province_admin",
                unit_code="46000",
                appointed_by="it.admin@vss.gov.vn",
                appointed_at=dt.datetime.now(dt.UTC),
            )
        )
    directory = SnapshotDirectory(
        DirectoryPerson(email=p.mail, full_name=p.full_name, unit_code=p.unit_code, title=p.title)
        for p in stack.slapd.people
    )
    app = create_app(
        factory=session_factory(url), directory=directory, validator=TokenValidator.from_settings(stack.settings)
    )
    ui = RelyingParty(
        issuer=f"{stack.settings.keycloak.url}/realms/bhxh",
        client_id="bhxh-bridge-ui",
        client_secret=None,
        redirect_uri="http://127.0.0.1:8000/ui/callback",
    )
    token = ui.login(province_admin.mail, password_for(province_admin.employee_number)).tokens["access_token"]
    client = TestClient(app)

    answer = client.get("/persons", params={"limit": 1000}, headers={"Authorization": f"Bearer {token}"})

    assert answer.status_code == 200, answer.text
    units = {row["unit_code"] for row in answer.json()}
    expected = {p.unit_code for p in stack.slapd.people if p.unit_code.startswith("46")}
    assert units == expected and len(answer.json()) == sum(1 for p in stack.slapd.people if p.unit_code[:2] == "46")

    app_token = relying_party(admin, stack, by_code(apps, "TST")).login(
        province_admin.mail, password_for(province_admin.employee_number)
    )
    refused = client.get("/persons", headers={"Authorization": f"Bearer {app_token.tokens['access_token']}"})
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("application/problem+json")
