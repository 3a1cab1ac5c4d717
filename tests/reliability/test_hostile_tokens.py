"""Hostile access tokens against the API on the real Keycloak realm (issue 17, "Tokens").

Each forged or unusable token is answered 401 and leaves one ``refused`` ledger row naming its reason. The
claim cases (wrong issuer, audience, expired, not yet valid) are signed by a key the real realm publishes: a
locally generated RSA key is imported into the realm as a low-priority key provider, so the signature checks
out against the realm's JWKS and only the claim is wrong. "Another realm's key" is a different key presented
under that same key id. The disabled user's token is a real token of a real login, refused once Keycloak has
disabled its holder (the validator reads the holder from the realm's admin REST).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from bridge.adapters.directory.lookup import DirectoryPerson, SnapshotDirectory
from bridge.adapters.keycloak.admin import KeycloakAdmin
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
from bridge.testbed.relying_party import RelyingParty
from bridge.testbed.stack import Stack
from tests.api_overrides import fix_day
from tests.integration.test_foundation import user_id

pytestmark = pytest.mark.integration
CONFIG = Path(__file__).resolve().parents[2] / "keycloak-config"
AUDIENCE = "bhxh-bridge-api"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segments(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"


def _people(stack: Stack, prefix: str, count: int) -> list[Person]:
    return [p for p in stack.slapd.people if p.unit_code.startswith(prefix)][:count]


@dataclass
class Bed:
    """The API on its own store, the realm's console client and the key imported into the realm."""

    api: FastAPI
    ui: RelyingParty
    issuer: str
    realm_key: RSAKey
    people: list[Person]
    user_ids: list[str]

    def claims(self, person: Person, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        base = {"iss": self.issuer, "aud": AUDIENCE, "exp": now + 120, "iat": now, "email": person.mail,
                "typ": "Bearer", "azp": "bhxh-bridge-ui", "sub": self.user_ids[self.people.index(person)]}  # fmt: skip
        return {k: v for k, v in (base | overrides).items() if v is not None}

    def sign(self, claims: dict[str, Any], key: RSAKey | None = None) -> str:
        key = key or self.realm_key
        return jwt.encode({"alg": "RS256", "kid": key.kid, "typ": "JWT"}, claims, key)

    def login(self, person: Person) -> str:
        return str(self.ui.login(person.mail, password_for(person.employee_number)).tokens["access_token"])


@pytest.fixture(scope="module")
def bed(stack: Stack, admin: KeycloakAdmin, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bed]:
    issuer = f"{stack.settings.keycloak.url}/realms/{stack.units.realm}"
    # a key the realm publishes (priority 1: Keycloak keeps signing its own tokens with its generated key)
    local = RSAKey.generate_key(2048, private=True)
    component = admin.post(
        "components",
        {
            "name": "i17-hostile-token-key",
            "providerId": "rsa",
            "providerType": "org.keycloak.keys.KeyProvider",
            "parentId": admin.get("")["id"],
            "config": {"privateKey": [local.as_pem(private=True).decode()], "priority": ["1"],
                       "enabled": ["true"], "active": ["true"], "algorithm": ["RS256"]},
        },
    )  # fmt: skip
    assert component is not None
    published = httpx.get(f"{issuer}/protocol/openid-connect/certs", timeout=10).json()["keys"]
    mine = [k for k in published if k.get("n") == local.as_dict()["n"]]
    assert len(mine) == 1, "the imported key is not in the realm's JWKS"
    realm_key = RSAKey.import_key(local.as_dict(private=True) | {"kid": mine[0]["kid"]})

    day = today_vn()
    url = f"sqlite:///{tmp_path_factory.mktemp('hostile-tokens') / 'bridge.sqlite3'}"
    upgrade(url=url)
    directory = SnapshotDirectory(
        DirectoryPerson(p.mail, p.full_name, p.unit_code, True, p.title) for p in stack.slapd.people
    )
    ctx = GovContext(stack.units, load_catalogue(CONFIG / "applications.yaml"), directory, day)
    factory = sessionmaker(make_engine(url), expire_on_commit=False)
    it, *province = _people(stack, "00012", 1) + _people(stack, "01", 2)
    with transaction(factory) as session:
        appoint_administrator(session, ctx=ctx, actor=None, email=it.mail, role=AdminRole.IT_CENTER_ADMIN,
                              unit_code="00012")  # fmt: skip
        for person in province:
            appoint_administrator(session, ctx=ctx, actor=load_actor(session, email=it.mail), email=person.mail,
                                  role=AdminRole.PROVINCE_ADMIN, unit_code="01000")  # fmt: skip
    # the production wiring: issuer, audience, JWKS and introspection with the bridge's service account
    validator = TokenValidator.from_settings(stack.settings)
    assert validator.issuer == issuer and validator.holder_check_client is not None
    app = create_app(factory=factory, directory=directory, validator=validator, config_dir=CONFIG)
    fix_day(app, day)
    ui = RelyingParty(issuer=issuer, client_id="bhxh-bridge-ui",
                      client_secret=stack.settings.ui.client_secret.get_secret_value(),
                      redirect_uri="http://127.0.0.1:8000/ui/callback")  # fmt: skip
    yield Bed(app, ui, issuer, realm_key, province, [user_id(admin, p) for p in province])
    for person in province:
        admin.put(f"users/{user_id(admin, person)}", {"enabled": True})
    admin.delete(f"components/{component}")


def _call(bed: Bed, token: str) -> tuple[int, dict[str, Any], list[LedgerEntry]]:
    """GET /grants with ``token``; the answer and the ledger rows the request added."""
    factory = api_state(bed.api).factory
    with factory() as session:
        before = session.scalar(select(func.max(LedgerEntry.id))) or 0
    with TestClient(bed.api) as client:
        response = client.get("/grants", headers={"Authorization": f"Bearer {token}"})
    with factory() as session:
        rows = list(session.scalars(select(LedgerEntry).where(LedgerEntry.id > before)))
    return response.status_code, response.json(), rows


def _alg_none(bed: Bed) -> str:
    return _segments({"alg": "none", "typ": "JWT"}, bed.claims(bed.people[0])) + "."


def _hs256_with_public_key(bed: Bed) -> str:
    # the classic confusion: the realm's public key (as published, PEM) used as an HMAC secret
    secret = bed.realm_key.as_pem(private=False)
    signing = _segments({"alg": "HS256", "kid": bed.realm_key.kid, "typ": "JWT"}, bed.claims(bed.people[0]))
    return f"{signing}.{_b64(hmac.new(secret, signing.encode(), hashlib.sha256).digest())}"


def _other_realms_key(bed: Bed) -> str:
    other = RSAKey.generate_key(2048, parameters={"kid": bed.realm_key.kid}, private=True)
    return bed.sign(bed.claims(bed.people[0]), other)


CASES: dict[str, tuple[Callable[[Bed], str], str]] = {
    "alg none": (_alg_none, "algorithm-refused"),
    "HS256 signed with the realm's public key": (_hs256_with_public_key, "algorithm-refused"),
    "wrong issuer": (lambda b: b.sign(b.claims(b.people[0], iss=b.issuer.replace("/bhxh", "/other"))), "wrong-issuer"),
    "wrong audience": (lambda b: b.sign(b.claims(b.people[0], aud="another-app")), "wrong-audience"),
    "expired": (lambda b: b.sign(b.claims(b.people[0], exp=int(time.time()) - 60, iat=int(time.time()) - 400)),
                "expired"),
    "not yet valid (nbf)": (lambda b: b.sign(b.claims(b.people[0], nbf=int(time.time()) + 600)), "not-yet-valid"),
    "issued in the future (iat)": (lambda b: b.sign(b.claims(b.people[0], iat=int(time.time()) + 600)),
                                   "not-yet-valid"),
    "signed with another realm's key under the same kid": (_other_realms_key, "bad-signature"),
}  # fmt: skip


def test_a_token_signed_by_the_imported_realm_key_is_accepted(bed: Bed) -> None:
    """The control: the crafted tokens below fail only on what each of them breaks."""
    status, body, rows = _call(bed, bed.sign(bed.claims(bed.people[0])))
    assert status == 200, body
    assert not [r for r in rows if r.outcome == "refused"]


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_token_is_refused_and_ledgered(bed: Bed, case: str) -> None:
    make, reason = CASES[case]
    status, body, rows = _call(bed, make(bed))
    assert status == 401, (case, body)
    refused = [r for r in rows if r.outcome == "refused"]
    assert len(refused) == 1, [(r.outcome, r.rule, r.detail) for r in rows]
    assert refused[0].rule == "R0-unauthenticated" and refused[0].actor == "anonymous"
    assert refused[0].detail["reason"] == reason and refused[0].detail["status"] == 401


def test_requests_in_flight_when_a_holder_check_falls_due_make_one_keycloak_call(bed: Bed) -> None:
    """The holder check is made once per holder for the requests waiting on it, not once per request."""
    person = bed.people[1]
    token = bed.login(person)
    assert _call(bed, token)[0] == 200
    validator = api_state(bed.api).validator
    # The remembered token and its holder's check are made due by ageing them past ``recheck_s`` (30 s), not by
    # a short ``recheck_s``: with 0.5 s, a slow machine let the check fall due a second time while the 12 requests
    # were still arriving (CI, 26/11/2026), which is the rule working, not two calls for requests in flight.
    with validator._lock:
        for sub, (enabled, at) in list(validator._holders.items()):
            validator._holders[sub] = (enabled, at - 2 * validator.recheck_s)
        for remembered, (exp, email, at) in list(validator._valid.items()):
            validator._valid[remembered] = (exp, email, at - 2 * validator.recheck_s)
    reads = validator._holder_admin().calls.reads
    with TestClient(bed.api) as client, ThreadPoolExecutor(max_workers=12) as pool:
        codes = list(pool.map(lambda _: client.get("/grants", headers={"Authorization": f"Bearer {token}"})
                              .status_code, range(12)))  # fmt: skip
    assert codes == [200] * 12
    assert validator._holder_admin().calls.reads - reads == 1


def test_a_disabled_users_unexpired_token_is_refused(bed: Bed, admin: KeycloakAdmin) -> None:
    """A real token of a real login; its holder is disabled in Keycloak before the token expires."""
    first, second = bed.people
    never_used, used = bed.login(first), bed.login(second)
    assert _call(bed, used)[0] == 200  # remembered by the validator from now on
    api_state(bed.api).validator.recheck_s = 1.0
    for person in (first, second):
        admin.put(f"users/{user_id(admin, person)}", {"enabled": False})
    time.sleep(1.2)  # past recheck_s: the remembered token is asked of the realm again
    for token in (never_used, used):
        payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
        assert payload["exp"] > time.time() + 5  # still valid by its own claims
        status, body, rows = _call(bed, token)
        assert status == 401, body
        refused = [r for r in rows if r.outcome == "refused"]
        assert len(refused) == 1 and refused[0].detail["reason"] == "holder-disabled"
