"""Bad input and bad tokens: each answered with a 4xx problem naming the field, and recorded as a refusal.

Callers present real access tokens issued by the test bed's Keycloak realm, validated against its JWKS. Forged
tokens are built from the realm's real tokens and keys where possible (tampered payload, ``alg: none``, HS256
keyed with the realm's public key, a foreign key under the realm's key id, another client's audience). Only
tokens Keycloak would never issue — expired, of another issuer, without an e-mail — are signed with a key the
test controls (LocalIssuer), checked by a validator that trusts that key but otherwise expects the realm's issuer
and audience, next to a well-formed control token it accepts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from gov_realm import AUDIENCE, ENTRIES
from gov_world import DAY, DIRECTORY, HN, IT, LEAD, PERSON_A, PERSON_INACTIVE
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

from bridge.adapters.keycloak.admin import KeycloakAdmin
from bridge.adapters.store.session import make_engine
from bridge.domain.catalogue import Application, by_code
from bridge.interfaces.api.app import create_app
from bridge.interfaces.api.auth import TokenValidator
from bridge.testbed.directory_gen import password_for
from bridge.testbed.local_issuer import LocalIssuer
from bridge.testbed.stack import Stack
from tests.api_overrides import fix_day, serve_store

if TYPE_CHECKING:
    from conftest import Seeded
    from gov_realm import Realm

pytestmark = pytest.mark.integration
from tests.integration.test_foundation import relying_party  # noqa: E402

CONFIG = Path(__file__).resolve().parents[2] / "keycloak-config"


def _call(
    seeded: Seeded, method: str, path: str, token: str | None, *, app: FastAPI | None = None, **kw: Any
) -> tuple[Any, list[Any]]:
    """One request on a fresh clone of the seeded store (to the seeded API unless ``app`` is given)."""
    app = app or seeded.app
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with seeded.clone() as store, TestClient(app) as client:
        serve_store(app, store.factory)
        response = client.request(method, path, headers=headers, **kw)
        with store.engine.connect() as conn:
            last = conn.execute(text("SELECT outcome, rule, detail FROM audit_ledger ORDER BY id DESC")).first()
    row = list(last or [])
    if row and isinstance(row[2], str):  # SQLite hands raw JSON text to a text() query
        row[2] = json.loads(row[2])
    return response, row


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"email": PERSON_A, "application": "NOPE", "role_group": "operator"}, 422, "application"),
        ({"email": PERSON_A, "application": "TST", "role_group": "boss"}, 422, "role_group"),
        ({"email": "nobody@hanoi.vss.gov.vn", "application": "TST", "role_group": "operator"}, 404, "email"),
        ({"email": PERSON_A, "application": "TST", "role_group": "operator", "unit_code": "79000"}, 422,
         "unit_code"),
        ({"email": PERSON_A, "application": "TST", "role_group": "operator", "scope": "all"}, 422, "scope"),
        ({"email": "not-an-email", "application": "TST", "role_group": "operator"}, 422, "email"),
        ({"email": PERSON_A, "application": "TST", "role_group": "admin"}, 403, "email"),
        ({"email": PERSON_INACTIVE, "application": "TST", "role_group": "operator"}, 403, "email"),
    ],
    ids=["unknown-app", "unknown-role", "unknown-person", "smuggled-unit", "smuggled-scope", "bad-email",
         "escalation", "inactive-person"],
)  # fmt: skip
def test_bad_grant_requests(seeded: Seeded, realm: Realm, body: dict[str, str], status: int, field: str | None) -> None:
    response, (outcome, rule, detail) = _call(seeded, "POST", "/grants", realm.token(HN), json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json().get("field") == field
    assert outcome == "refused" and rule and detail["status"] == status
    if status == 403:
        assert response.json()["rule"] == rule


def test_exception_for_inactive_person_then_grant(seeded: Seeded, realm: Realm) -> None:
    auth = realm.headers
    with seeded.clone() as store, TestClient(seeded.app) as client:
        serve_store(seeded.app, store.factory)

        ask = {"email": PERSON_INACTIVE, "unit_code": "01004", "application": "TST", "role_group": "operator",
               "reason": "Cán bộ nghỉ thai sản quay lại sớm theo quyết định"}  # fmt: skip
        approval = client.post("/approvals/exceptions", json=ask, headers=auth(HN)).json()
        grant = {"email": PERSON_INACTIVE, "application": "TST", "role_group": "operator",
                 "exception_id": approval["id"]}  # fmt: skip
        premature = client.post("/grants", json=grant, headers=auth(HN))
        decided = client.post(f"/approvals/{approval['id']}/decisions", json={"approve": True}, headers=auth(LEAD))
        granted = client.post("/grants", json=grant, headers=auth(HN))
    assert premature.status_code == 409 and premature.json()["field"] == "exception_id"
    assert decided.status_code == 200 and decided.json()["status"] == "approved"
    assert decided.json()["decisions"][0]["subject_hash"] == approval["subject_hash"]
    assert granted.status_code == 201 and granted.json()["approval_id"] == approval["id"]
    assert granted.json()["unit_code"] == "01004"


def _b64(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def _realm_key(realm: Realm) -> RSAKey:
    """The realm's real RS256 signing key (public part) from its JWKS."""
    keys = KeySet.import_key_set(httpx.get(realm.jwks_url, timeout=10).json())
    key = next(k for k in keys.keys if k.get("alg") == "RS256" and k.get("use", "sig") == "sig")
    assert isinstance(key, RSAKey)
    return key


def _forged(realm: Realm, case: str, request: pytest.FixtureRequest) -> str:
    """A token built from the realm's real tokens and keys, which the realm's validator must refuse."""
    now = int(time.time())
    if case == "wrong-audience":  # a real, fresh token of the realm's TST client: no API audience
        return str(request.getfixturevalue("tst_token"))
    if case == "hs256-with-public-key":
        key = _realm_key(realm)
        claims = {"email": IT, "iss": realm.issuer, "aud": AUDIENCE, "exp": now + 60}
        signing_input = f"{_b64({'alg': 'HS256', 'kid': key.kid})}.{_b64(claims)}"
        mac = hmac.new(key.as_pem(private=False), signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    if case == "alg-none":
        return f"{_b64({'alg': 'none'})}.{realm.token(IT).split('.')[1]}."
    if case == "other-key":
        kid = str(_realm_key(realm).kid)
        other = RSAKey.generate_key(2048, parameters={"kid": kid}, private=True)
        return jwt.encode({"alg": "RS256", "kid": kid}, {"email": IT, "iss": realm.issuer, "aud": AUDIENCE,
                          "exp": now + 60}, other)  # fmt: skip
    if case == "tampered":
        head, _, sig = realm.token(HN).split(".")
        return ".".join([head, realm.token(IT).split(".")[1], sig])
    raise AssertionError(case)


@pytest.fixture()
def tst_token(stack: Stack, admin: KeycloakAdmin, apps: tuple[Application, ...], realm: Realm) -> str:
    """A real access token of Province A's administrator for the TST business client (another audience)."""
    entry = next(p for p in ENTRIES if p.mail == HN)
    login = relying_party(admin, stack, by_code(apps, "TST")).login(HN, password_for(entry.employee_number))
    return str(login.tokens["access_token"])


@pytest.mark.parametrize("case", ["wrong-audience", "hs256-with-public-key", "alg-none", "other-key", "tampered"])
def test_forged_realm_tokens_are_401_and_recorded(
    seeded: Seeded, realm: Realm, request: pytest.FixtureRequest, case: str
) -> None:
    response, (outcome, rule, _detail) = _call(seeded, "GET", "/grants", _forged(realm, case, request))
    assert response.status_code == 401, response.text
    if case == "wrong-audience":
        assert "aud" in response.json()["detail"]
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert (outcome, rule) == ("refused", "R0-unauthenticated")


@pytest.fixture(scope="module")
def crafted_app(seeded: Seeded, realm: Realm, issuer: LocalIssuer) -> FastAPI:
    """The API with a validator expecting the realm's issuer and audience but trusting the test's own key."""
    validator = TokenValidator(issuer=realm.issuer, audience=AUDIENCE, jwks_url=issuer.jwks_url)
    factory = sessionmaker(make_engine(seeded.template_url))
    app = create_app(factory=factory, directory=DIRECTORY, validator=validator, config_dir=CONFIG)
    fix_day(app, DAY)
    return app


@pytest.mark.parametrize(
    ("case", "status", "reason"),
    [("control", 200, ""), ("expired", 401, "expired"), ("wrong-issuer", 401, "iss"), ("no-email", 401, "e-mail")],
)
def test_tokens_keycloak_never_issues_are_401_and_recorded(
    seeded: Seeded, realm: Realm, issuer: LocalIssuer, crafted_app: FastAPI, case: str, status: int, reason: str
) -> None:
    """Signed with LocalIssuer's key on purpose: Keycloak would never issue these (the control shows that the
    key itself is trusted, so each refusal is for the claim under test)."""
    variants: dict[str, dict[str, Any]] = {
        "control": {},
        "expired": {"exp": int(time.time()) - 60},
        "wrong-issuer": {"iss": "https://evil.example/realms/bhxh"},
        "no-email": {"email": None},
    }
    claims = dict(variants[case])
    token = issuer.token(claims.pop("email", HN), **{"iss": realm.issuer, **claims})
    response, (outcome, rule, _detail) = _call(seeded, "GET", "/grants", token, app=crafted_app)
    assert response.status_code == status, response.text
    if status == 401:
        assert reason in response.json()["detail"]
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert (outcome, rule) == ("refused", "R0-unauthenticated")


def test_openapi_lists_every_route(seeded: Seeded) -> None:
    with TestClient(seeded.app) as client:
        paths = client.get("/openapi.json").json()["paths"]
    assert {
        "/grants",
        "/grants/{grant_id}/revoke",
        "/explain",
        "/audit/verify",
        "/approvals/exceptions",
    } <= set(paths)
