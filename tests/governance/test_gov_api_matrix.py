"""The authorization matrix: every endpoint × every kind of caller × {in, out of scope}, on both stores.

Each case runs on its own copy of the seeded store. Every caller presents a real access token issued by the test
bed's Keycloak realm (a browser login of a real directory entry through the bridge UI client), which the API
validates against the realm's JWKS over HTTP, as in production; the anonymous caller presents none.
The expected decisions are written out by hand from the rules (not computed by the policy under test); every
case also checks that a refusal changed nothing, left exactly one ``refused`` ledger row naming the rule, and
that an out-of-scope target answers exactly like a missing one.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient
from gov_realm import Realm
from gov_world import AUDIT, HCM, HN, IT, LEAD, PERSON_A, PERSON_B, PERSON_CENTRAL, STAFF, World
from sqlalchemy import text

from tests.api_overrides import serve_store

if TYPE_CHECKING:
    from conftest import Seeded, Store

ACTORS = ("it_center", "province_a", "province_b", "leadership", "auditor", "staff", "anonymous")
EMAIL = {"it_center": IT, "province_a": HN, "province_b": HCM, "leadership": LEAD, "auditor": AUDIT,
         "staff": STAFF, "anonymous": None}  # fmt: skip
#: Person, grant and approval each caller has in and out of scope (world attribute names for ids).
IN = {"it_center": (PERSON_CENTRAL, "grant_central", "approval_central", "00002"),
      "province_a": (PERSON_A, "grant_a", "approval_a", "01002"),
      "province_b": (PERSON_B, "grant_b", "approval_b", "79001"),
      "leadership": (PERSON_A, "grant_a", "approval_a", "01002"),
      "auditor": (PERSON_A, "grant_a", "approval_a", "01002"),
      "staff": (STAFF, "grant_staff", "approval_a", "01001"),
      "anonymous": (PERSON_A, "grant_a", "approval_a", "01002")}  # fmt: skip
OUT = {"it_center": (PERSON_A, "grant_a", "approval_a", "01002"),
       "province_a": (PERSON_B, "grant_b", "approval_b", "79001"),
       "province_b": (PERSON_A, "grant_a", "approval_a", "01002"),
       "leadership": (PERSON_B, "grant_b", "approval_b", "79001"),
       "auditor": (PERSON_B, "grant_b", "approval_b", "79001"),
       "staff": (PERSON_A, "grant_a", "approval_a", "01002"),
       "anonymous": (PERSON_B, "grant_b", "approval_b", "79001")}  # fmt: skip


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: dict[str, Any] | None = None
    params: dict[str, Any] | None = None
    #: For 404s: (kind, key) whose "missing" body the answer must equal.
    hidden: tuple[str, object] | None = None


Builder = Callable[[tuple[str, str, str, str], World], Call]
ENDPOINTS: dict[str, Builder] = {
    "GET /persons": lambda t, w: Call("GET", "/persons", params={"limit": 1000}),
    "GET /persons/{email}": lambda t, w: Call("GET", f"/persons/{t[0]}", hidden=("person", t[0])),
    "POST /persons/providers": lambda t, w: Call(
        "POST", "/persons/providers",
        body={"email": "moi.dv@dv003.vn", "full_name": "Ngô Văn Mới", "provider_unit": "DV003"},
    ),
    "GET /grants": lambda t, w: Call("GET", "/grants", params={"limit": 1000}),
    "GET /grants/{id}": lambda t, w: Call(
        "GET", f"/grants/{getattr(w, t[1])}", hidden=("grant", getattr(w, t[1]))
    ),
    "POST /grants": lambda t, w: Call(
        "POST", "/grants", body={"email": t[0], "application": "TST", "role_group": "supervisor"},
        hidden=("person", t[0]),
    ),
    "POST /grants/{id}/revoke": lambda t, w: Call(
        "POST", f"/grants/{getattr(w, t[1])}/revoke", hidden=("grant", getattr(w, t[1]))
    ),
    "GET /explain": lambda t, w: Call(
        "GET", "/explain",
        params={"action": "grant", "email": t[0], "application": "TST", "role_group": "operator"},
        hidden=("person", t[0]),
    ),
    "POST /approvals/exceptions": lambda t, w: Call(
        "POST", "/approvals/exceptions",
        body={"email": "biet.phai@example.vn", "unit_code": t[3], "application": "TST",
              "role_group": "operator",
              "reason": "Cán bộ biệt phái từ Bộ Tài chính"},
        hidden=("unit", t[3]),
    ),
    "GET /approvals": lambda t, w: Call("GET", "/approvals"),
    "GET /approvals/{id}": lambda t, w: Call(
        "GET", f"/approvals/{getattr(w, t[2])}", hidden=("approval", getattr(w, t[2]))
    ),
    "POST /approvals/{id}/decisions": lambda t, w: Call(
        "POST", f"/approvals/{getattr(w, t[2])}/decisions", body={"approve": True},
        hidden=("approval", getattr(w, t[2])),
    ),
    "GET /audit/ledger": lambda t, w: Call("GET", "/audit/ledger", params={"target": f"person:{t[0]}"}),
    "GET /audit/verify": lambda t, w: Call("GET", "/audit/verify"),
}  # fmt: skip

U = (401, "R0-unauthenticated")
NA = (403, "R0-not-administrator")
RO = (403, "R8-read-only-role")
AR = (403, "R16-audit-readers")
HIDE = (404, "R5-province-out-of-scope")
#: endpoint → caller → (in scope, out of scope); an int is a success status, a pair is (status, rule).
EXPECT: dict[str, dict[str, tuple[Any, Any]]] = {
    "GET /persons": {"it_center": (200, 200), "province_a": (200, 200), "province_b": (200, 200),
                     "leadership": (200, 200), "auditor": (200, 200), "staff": (200, 200),
                     "anonymous": (U, U)},
    "GET /persons/{email}": {"it_center": (200, 200), "province_a": (200, HIDE), "province_b": (200, HIDE),
                             "leadership": (200, 200), "auditor": (200, 200),
                             "staff": (200, (404, "R0-not-administrator")), "anonymous": (U, U)},
    "POST /persons/providers": {"it_center": (201, 201),
                                "province_a": ((403, "R5-province-out-of-scope"),) * 2,
                                "province_b": ((403, "R5-province-out-of-scope"),) * 2,
                                "leadership": (RO, RO), "auditor": (RO, RO), "staff": (NA, NA),
                                "anonymous": (U, U)},
    "GET /grants": {"it_center": (200, 200), "province_a": (200, 200), "province_b": (200, 200),
                    "leadership": (200, 200), "auditor": (200, 200), "staff": (200, 200),
                     "anonymous": (U, U)},
    "GET /grants/{id}": {"it_center": (200, 200), "province_a": (200, HIDE), "province_b": (200, HIDE),
                         "leadership": (200, 200), "auditor": (200, 200),
                         "staff": (200, (404, "R0-not-administrator")), "anonymous": (U, U)},
    "POST /grants": {"it_center": (201, (403, "R7-province-delegated")), "province_a": (201, HIDE),
                     "province_b": (201, HIDE), "leadership": (RO, RO), "auditor": (RO, RO),
                     "staff": (NA, NA), "anonymous": (U, U)},
    "POST /grants/{id}/revoke": {"it_center": (200, (403, "R7-province-delegated")),
                                 "province_a": (200, HIDE),
                                 "province_b": (200, HIDE), "leadership": (RO, RO), "auditor": (RO, RO),
                                 "staff": (NA, NA), "anonymous": (U, U)},
    "GET /explain": {"it_center": (200, 200), "province_a": (200, HIDE), "province_b": (200, HIDE),
                     "leadership": (200, 200), "auditor": (200, 200),
                     "staff": (200, (404, "R5-province-out-of-scope")), "anonymous": (U, U)},
    "POST /approvals/exceptions": {"it_center": (201, (403, "R7-province-delegated")),
                                   "province_a": (201, HIDE),
                                   "province_b": (201, HIDE), "leadership": (RO, RO), "auditor": (RO, RO),
                                   "staff": (NA, NA), "anonymous": (U, U)},
    "GET /approvals": {"it_center": (200, 200), "province_a": (200, 200), "province_b": (200, 200),
                       "leadership": (200, 200), "auditor": (200, 200), "staff": (200, 200),
                     "anonymous": (U, U)},
    "GET /approvals/{id}": {"it_center": (200, 200), "province_a": (200, HIDE), "province_b": (200, HIDE),
                            "leadership": (200, 200), "auditor": (200, 200), "staff": (HIDE, HIDE),
                            "anonymous": (U, U)},
    "POST /approvals/{id}/decisions": {
        "it_center": ((403, "R13-four-eyes"), (403, "R14-leadership-approves")),
        "province_a": ((403, "R13-four-eyes"), HIDE), "province_b": ((403, "R13-four-eyes"), HIDE),
        "leadership": (200, 200), "auditor": ((403, "R14-leadership-approves"),) * 2,
        "staff": (HIDE, HIDE), "anonymous": (U, U)},
    "GET /audit/ledger": {"it_center": (200, 200), "province_a": (AR, AR), "province_b": (AR, AR),
                          "leadership": (200, 200), "auditor": (200, 200), "staff": (NA, NA),
                          "anonymous": (U, U)},
    "GET /audit/verify": {"it_center": (200, 200), "province_a": (AR, AR), "province_b": (AR, AR),
                          "leadership": (200, 200), "auditor": (200, 200), "staff": (NA, NA),
                          "anonymous": (U, U)},
}  # fmt: skip

#: What each caller must see, and must not see, in the list endpoints.
SEES = {"it_center": {PERSON_A, PERSON_B, PERSON_CENTRAL, STAFF},
        "leadership": {PERSON_A, PERSON_B, PERSON_CENTRAL, STAFF},
        "auditor": {PERSON_A, PERSON_B, PERSON_CENTRAL, STAFF}, "province_a": {PERSON_A, STAFF},
        "province_b": {PERSON_B}, "staff": {STAFF}}  # fmt: skip
EVERYONE = {PERSON_A, PERSON_B, PERSON_CENTRAL, STAFF}
STATE_SQL = {
    "grants": "SELECT id, email, application, role_group, revoked_at FROM grants ORDER BY id",
    "approvals": "SELECT id, status FROM approval_requests ORDER BY id",
    "decisions": "SELECT id, approver, approved FROM approval_decisions ORDER BY id",
    "providers": "SELECT email FROM provider_persons ORDER BY email",
    "admins": "SELECT email, role, unit_code FROM administrators ORDER BY email",
}


def _state(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    with store.engine.connect() as conn:
        return {name: [tuple(r) for r in conn.execute(text(sql))] for name, sql in STATE_SQL.items()}


def _ledger(store: Store) -> list[tuple[Any, ...]]:
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT id, actor, outcome, rule FROM audit_ledger ORDER BY id"))]


def test_every_endpoint_and_caller_is_in_the_table() -> None:
    assert set(EXPECT) == set(ENDPOINTS)
    assert all(set(row) == set(ACTORS) for row in EXPECT.values())


CASES = list(itertools.product(ENDPOINTS, ACTORS, ("in", "out")))


@pytest.mark.integration
@pytest.mark.parametrize(("endpoint", "caller", "scope"), CASES, ids=["|".join(c) for c in CASES])
def test_authorization_matrix(seeded: Seeded, realm: Realm, endpoint: str, caller: str, scope: str) -> None:
    targets = IN[caller] if scope == "in" else OUT[caller]
    call = ENDPOINTS[endpoint](targets, seeded.world)
    expected = EXPECT[endpoint][caller][0 if scope == "in" else 1]
    status, rule = (expected, None) if isinstance(expected, int) else expected
    email = EMAIL[caller]
    headers = realm.headers(email)
    with seeded.clone() as store:
        serve_store(seeded.app, store.factory)
        before, ledger_before = _state(store), _ledger(store)
        with TestClient(seeded.app) as client:
            response = client.request(call.method, call.path, json=call.body, params=call.params, headers=headers)
        after, ledger_after = _state(store), _ledger(store)
        new_rows = ledger_after[len(ledger_before) :]
    assert response.status_code == status, response.text
    if status >= 400:
        assert response.headers["content-type"] == "application/problem+json"
        assert after == before, "a refusal must not change state"
        assert [(r[1], r[2], r[3]) for r in new_rows] == [(email or "anonymous", "refused", rule)]
        if status == 404:
            kind, key = call.hidden or ("", "")
            assert response.json() == _missing_body(kind, key)
        return
    if call.method == "GET":
        assert new_rows == [], "reads leave no ledger rows"
        _check_listing(endpoint, caller, response.json())
    else:
        assert after != before and new_rows and all(r[2] == "allowed" for r in new_rows)


def _missing_body(kind: str, key: object) -> dict[str, Any]:
    field = {"person": "email", "grant": "grant_id", "approval": "approval_id", "unit": "unit_code"}[kind]
    return {
        "type": "urn:bhxh-bridge:problem:not-found", "title": "not-found", "status": 404,
        "detail": f"Không tìm thấy {kind} {key} trong phạm vi quản lý / no {kind} {key} in your scope",
        "field": field,
    }  # fmt: skip


def _check_listing(endpoint: str, caller: str, body: Any) -> None:
    if endpoint in ("GET /persons", "GET /grants"):
        seen = {item["email"] for item in body} & EVERYONE
        assert seen == SEES[caller]
    if endpoint == "GET /approvals":
        units = {item["unit_code"] for item in body}
        expected = {"province_a": {"01002"}, "province_b": {"79001"}, "staff": set()}.get(
            caller, {"01002", "79001", "00002"}
        )
        assert units == expected


@pytest.mark.integration
def test_missing_ids_answer_like_out_of_scope_ones(seeded: Seeded, realm: Realm) -> None:
    headers = realm.headers(HN)
    with seeded.clone() as store, TestClient(seeded.app) as client:
        serve_store(seeded.app, store.factory)
        missing = client.get("/grants/999999", headers=headers)
        hidden = client.get(f"/grants/{seeded.world.grant_b}", headers=headers)
        rules = [r[3] for r in _ledger(store)[-2:]]
    assert missing.status_code == hidden.status_code == 404
    assert missing.json() == _missing_body("grant", 999999)
    assert hidden.json() == _missing_body("grant", seeded.world.grant_b)
    assert rules == ["E3-unknown-grant", "R5-province-out-of-scope"]


@pytest.mark.integration
def test_caller_tokens_are_cached_then_renewed_before_expiry(realm: Realm) -> None:
    """The matrix outlives a 300 s access token: a cached token is reused until less than a minute is left."""
    cached = realm.token(HN)
    assert realm.token(HN) == cached
    always_stale = Realm(realm.stack, min_left_s=301)  # the realm's tokens live 300 s: every cached one is stale
    first = always_stale.token(HN)
    renewed = always_stale.token(HN)
    assert len({cached, first, renewed}) == 3 and always_stale.logins == 2
    assert realm.validator().email(renewed) == HN
