"""Bad input and bad tokens: each answered with a 4xx problem naming the field, and recorded as a refusal."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient
from gov_world import HN, IT, LEAD, PERSON_A, PERSON_INACTIVE
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import text

from bridge.testbed.local_issuer import LocalIssuer

if TYPE_CHECKING:
    from conftest import Seeded


def _call(seeded: Seeded, method: str, path: str, token: str | None, **kw: Any) -> tuple[Any, list[Any]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with seeded.clone() as store, TestClient(seeded.app) as client:
        seeded.app.state.gov.factory = store.factory
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
def test_bad_grant_requests(
    seeded: Seeded, issuer: LocalIssuer, body: dict[str, str], status: int, field: str | None
) -> None:
    response, (outcome, rule, detail) = _call(seeded, "POST", "/grants", issuer.token(HN), json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json().get("field") == field
    assert outcome == "refused" and rule and detail["status"] == status
    if status == 403:
        assert response.json()["rule"] == rule


def test_exception_for_inactive_person_then_grant(seeded: Seeded, issuer: LocalIssuer) -> None:
    with seeded.clone() as store, TestClient(seeded.app) as client:
        seeded.app.state.gov.factory = store.factory

        def auth(email: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {issuer.token(email)}"}

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


def _forged(issuer: LocalIssuer, case: str) -> str:
    now = int(time.time())
    if case == "expired":
        return issuer.token(HN, exp=now - 60)
    if case == "wrong-audience":
        return issuer.token(HN, aud="account")
    if case == "wrong-issuer":
        return issuer.token(HN, iss="https://evil.example/realms/bhxh")
    if case == "no-email":
        return issuer.token(None)
    if case == "hs256-with-public-key":
        claims = {"email": IT, "iss": issuer.issuer, "aud": issuer.audience, "exp": now + 60}
        signing_input = f"{_b64({'alg': 'HS256', 'kid': issuer.key.kid})}.{_b64(claims)}"
        mac = hmac.new(issuer.key.as_pem(private=False), signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    if case == "alg-none":
        return f"{_b64({'alg': 'none'})}.{issuer.token(IT).split('.')[1]}."
    if case == "other-key":
        other = RSAKey.generate_key(2048, parameters={"kid": issuer.key.kid}, private=True)
        return jwt.encode({"alg": "RS256", "kid": issuer.key.kid}, {"email": IT, "iss": issuer.issuer,
                          "aud": issuer.audience, "exp": now + 60}, other)  # fmt: skip
    if case == "tampered":
        head, _, sig = issuer.token(HN).split(".")
        return ".".join([head, issuer.token(IT).split(".")[1], sig])
    raise AssertionError(case)


@pytest.mark.parametrize(
    "case",
    ["expired", "wrong-audience", "wrong-issuer", "no-email", "hs256-with-public-key", "alg-none",
     "other-key", "tampered"],
)  # fmt: skip
def test_bad_tokens_are_401_and_recorded(seeded: Seeded, issuer: LocalIssuer, case: str) -> None:
    response, (outcome, rule, _detail) = _call(seeded, "GET", "/grants", _forged(issuer, case))
    assert response.status_code == 401, response.text
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
