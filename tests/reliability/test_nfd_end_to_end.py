"""A name held in NFD, from slapd through Keycloak's token to the API and the console (issue 17, item 3).

Vietnamese typed with a "tổ hợp" input method arrives in the directory decomposed (NFD). Keycloak's read-only
LDAP mappers copy it as it is, so the person's own token carries the NFD name; that is Keycloak's behaviour,
asserted here as the premise. From there on, the bridge: the person logs in for real and uses the API with that
token (they administer Hà Nội here), and the console's people search is given the name in NFC (as every
keyboard but a "tổ hợp" one types it) and opens their page. What the bridge prints (API JSON, console HTML) is
NFC, the NFC search finds them, and after all of it no text anywhere in the store is other than NFC.
"""

from __future__ import annotations

import base64
import json
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner
from sqlalchemy import Engine, select
from sqlalchemy.orm import sessionmaker

from bridge.adapters.directory.ldap import LdapDirectory
from bridge.adapters.keycloak.admin import KeycloakAdmin
from bridge.adapters.store.migrate import upgrade
from bridge.adapters.store.models import Administrator
from bridge.adapters.store.session import make_engine
from bridge.clock import today_vn
from bridge.interfaces.api.app import create_app
from bridge.interfaces.api.auth import TokenValidator
from bridge.interfaces.api.deps import get_today
from bridge.interfaces.web.app import COOKIE, console_of
from bridge.interfaces.web.sessions import SessionStore
from bridge.settings import get_settings
from bridge.testbed.directory_gen import Person, password_for, person_ldif
from bridge.testbed.postgres_server import APP_ROLE, PostgresServer
from bridge.testbed.relying_party import RelyingParty
from bridge.testbed.slapd_server import PEOPLE_BASE
from bridge.testbed.stack import Stack
from tests.integration.test_foundation import person_in
from tests.reliability.api_bed import CONFIG, appoint, not_nfc_in_store

pytestmark = pytest.mark.integration
FAMILY, GIVEN = "Phạm", "Thị Thuỳ Dương"
NFC_NAME = f"{FAMILY} {GIVEN}"
SECRET = "i17b-nfd-cookie-key"


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def _payload(token: str) -> dict[str, Any]:
    body = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))))


@dataclass
class Bed:
    app: FastAPI
    engine: Engine
    person: Person
    colleague: Person
    token: str
    sessions: SessionStore


@pytest.fixture(scope="module")
def bed(stack: Stack, admin: KeycloakAdmin, postgres: PostgresServer, monkeypatch_module: pytest.MonkeyPatch
        ) -> Iterator[Bed]:  # fmt: skip
    template, colleague = person_in(stack, "01", 116), person_in(stack, "01", 117)
    person = Person(uid="i17b-nfd", full_name=nfd(NFC_NAME), family_name=nfd(FAMILY), given_name=nfd(GIVEN),
                    mail=f"i17b.nfd@{template.mail.split('@')[1]}", unit_code=template.unit_code,
                    title=nfd("Chuyên viên"), employee_number="i17b-nfd")  # fmt: skip
    record = person_ldif(person, PEOPLE_BASE).split("\n", 1)
    stack.slapd.modify(f"{record[0]}\nchangetype: add\n{record[1]}")
    # the person signs in for real: Keycloak imports them from slapd through its read-only federation
    issuer = f"{stack.settings.keycloak.url}/realms/{stack.units.realm}"
    ui = RelyingParty(issuer=issuer, client_id="bhxh-bridge-ui",
                      client_secret=stack.settings.ui.client_secret.get_secret_value(),
                      redirect_uri="http://127.0.0.1:8000/ui/callback")  # fmt: skip
    token = str(ui.login(person.mail, password_for(person.employee_number)).tokens["access_token"])

    database = "i17b_nfd"
    postgres.create_database(database)
    upgrade(url=postgres.owner_url(database), app_role=APP_ROLE)
    engine = make_engine(postgres.app_url(database))
    factory = sessionmaker(engine, expire_on_commit=False)
    directory = LdapDirectory(stack.settings.directory)
    # the NFD person administers Hà Nội (so their own token is admitted by the API and the console)
    appoint(stack, factory, directory, {"it": person_in(stack, "00012", 11), "province": person})
    monkeypatch_module.setenv("BRIDGE_UI__SESSION_SECRET", SECRET)
    get_settings.cache_clear()
    app = create_app(factory=factory, directory=directory, validator=TokenValidator.from_settings(stack.settings),
                     config_dir=CONFIG)  # fmt: skip
    ui_app = console_of(app)
    sessions = SessionStore(idle_s=900)
    ui_app.state.console_sessions = sessions
    day = today_vn()

    async def on_day() -> Any:
        return day

    ui_app.dependency_overrides[get_today] = on_day
    try:
        yield Bed(app, engine, person, colleague, token, sessions)
    finally:
        get_settings.cache_clear()
        directory.close()
        engine.dispose()
        postgres.drop_database(database)
        found = admin.get("users", email=person.mail, exact="true")
        for user in found:
            admin.delete(f"users/{user['id']}")
        stack.slapd.delete([f"{person.dn_rdn},{PEOPLE_BASE}"])


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_keycloak_carries_the_nfd_name_into_the_token(bed: Bed) -> None:
    """The premise: Keycloak copies the directory's value as it is (so the bridge must not trust its form)."""
    claims = _payload(bed.token)
    names = [claims.get(k) for k in ("name", "given_name", "family_name") if claims.get(k)]
    assert names, f"no name claim in the token: {sorted(claims)}"
    assert all(n != unicodedata.normalize("NFC", n) for n in names), names
    assert unicodedata.normalize("NFC", claims["given_name"]) == GIVEN
    assert unicodedata.normalize("NFC", claims["family_name"]) == FAMILY


def test_the_api_admits_the_token_and_answers_in_nfc(bed: Bed) -> None:
    auth = {"Authorization": f"Bearer {bed.token}"}
    with TestClient(bed.app) as client:
        found = client.get("/persons", params={"limit": 1000}, headers=auth)
        assert found.status_code == 200, found.text
        names = {p["email"]: p["full_name"] for p in found.json()}
        assert names.get(bed.person.mail) == NFC_NAME, names.get(bed.person.mail)
        one = client.get(f"/persons/{bed.person.mail}", headers=auth)
        assert one.status_code == 200 and one.json()["full_name"] == NFC_NAME, one.text
        # the person acts through the API: a lock decision for a colleague, recorded with its ledger row
        body = {"email": bed.colleague.mail, "reason": nfd("nghỉ hưu"), "decision_number": nfd("7/QĐ-BHXH Hà Nội"),
                "decision_date": "2030-12-01", "effective_date": "2031-01-01"}  # fmt: skip
        made = client.post("/locks", json=body, headers=auth)
        assert made.status_code == 201, made.text
        assert made.json()["decision_number"] == "7/QĐ-BHXH Hà Nội" and made.json()["reason_code"] == "retired"
        assert made.json()["requested_by"] == bed.person.mail
    printed = found.text + one.text + made.text
    assert not [c for c in printed if unicodedata.combining(c)], "a combining mark in the API's answers"


def test_the_console_search_finds_the_person_with_nfc_input_and_prints_nfc(bed: Bed) -> None:
    made = bed.sessions.open(email=bed.person.mail, keycloak_sid="kc-i17b-nfd", id_token="not-used")
    client = TestClient(bed.app, base_url="http://127.0.0.1:8000", follow_redirects=False)
    payload = base64.b64encode(json.dumps({"sid": made.id}).encode())
    client.cookies.set(COOKIE, TimestampSigner(SECRET).sign(payload).decode(), path="/ui")
    for query in (NFC_NAME, "Thuỳ Dương", "thuy duong"):
        page = client.get("/ui/people", params={"q": query})
        assert page.status_code == 200, page.text[:500]
        assert bed.person.mail in page.text, f"{query!r} did not find the NFD person"
        assert NFC_NAME in page.text and nfd(NFC_NAME) not in page.text
    own = client.get(f"/ui/people/{bed.person.mail}")
    assert own.status_code == 200, own.text[:500]
    assert NFC_NAME in own.text and nfd(NFC_NAME) not in own.text


def test_nothing_in_the_store_is_other_than_nfc(bed: Bed) -> None:
    """After the module's API and console tests (appointment, lock decision, ledger rows, console session)."""
    with bed.engine.connect() as conn:
        admins = conn.execute(select(Administrator.email)).scalars().all()
    assert bed.person.mail in admins
    assert not_nfc_in_store(bed.engine) == []


def test_the_bridge_reads_the_nfd_entry_in_nfc(bed: Bed, stack: Stack) -> None:
    lookup = LdapDirectory(stack.settings.directory)
    try:
        found = lookup.find(bed.person.mail)
        assert found is not None and found.full_name == NFC_NAME
        assert [p.email for p in lookup.in_units([bed.person.unit_code]) if p.full_name == NFC_NAME] == [
            bed.person.mail
        ]
    finally:
        lookup.close()
