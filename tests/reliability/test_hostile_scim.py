"""SCIM request bodies fuzzed with a valid HR client's token, on the real realm, slapd and PostgreSQL (issue 17).

The SCIM routes take their bodies as free JSON (``dict``) and parse them with scim2-models, so schemathesis
would only send arbitrary objects; Hypothesis generates SCIM-shaped ones instead: PatchOp bodies (operations on
``active``, the lock extension and the directory's attributes), User bodies for PUT and POST, SearchRequest
bodies, and the list's query parameters, their strings drawn from hostile text (NUL, C0/C1 controls, NFD,
bidirectional marks, LDAP filter characters, lone surrogates, 10 kB values, impossible dates). Each request
carries a client-credentials token of Hà Nội's HR client (``scim-hr-01000``) from the real realm, and targets a
Hà Nội person, another province's, or a hostile id.

Checks, per request: no 5xx; a refusal is a SCIM error body (RFC 7644 §3.12) with a detail that says what is
wrong; and a refusal writes nothing (every table of the store counted before and after; only ``refused``
ledger rows may be added). The bounded variant runs in ``make test``; ``reliability_long`` sends 2,000 bodies
per operation.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from bridge.adapters.directory.ldap import LdapDirectory
from bridge.adapters.keycloak.admin import client_credentials_token
from bridge.adapters.store.migrate import upgrade
from bridge.adapters.store.session import make_engine
from bridge.interfaces.api.app import create_app
from bridge.interfaces.api.auth import TokenValidator
from bridge.services.keycloak_config import bootstrap_admin
from bridge.testbed.postgres_server import APP_ROLE, PostgresServer
from bridge.testbed.stack import Stack
from tests.integration.test_foundation import person_in
from tests.reliability.api_bed import (
    CONFIG,
    controls_in_store,
    not_nfc_in_store,
    record_result,
    row_counts,
    store_tables,
)

pytestmark = pytest.mark.integration
DATABASE = "i17b_scim"
CLIENT = "scim-hr-01000"
BOUNDED = 120
LONG = 2000
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
LOCK = "urn:bhxh:params:scim:schemas:extension:lock:2.0:User"


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


HOSTILE = st.one_of(
    st.text(max_size=30),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x9F), max_size=8),
    st.sampled_from([
        "\x00", "a\x00b", "\x1b[31m", "Trần\x85Văn", "\x7f", "*)(uid=*", "\\00", "Lê \u202eB", "\ud800", "\udfff x",
        nfd("Nghỉ thai sản"), nfd("12/QĐ-BHXH"), "x" * 10_000, "9" * 400, "2026-02-30", "30/02/2026", "-1", "", " ",
        "' OR 1=1 --", "${jndi:ldap://x}", "userName eq \"\x00\"",
    ]),
)  # fmt: skip
NUMBER = st.one_of(st.integers(min_value=-(2**70), max_value=2**70), st.sampled_from([0, 1, 2**31, 2**63, -1]))
JSON = st.recursive(
    st.none() | st.booleans() | NUMBER | st.floats(allow_nan=False, allow_infinity=False) | HOSTILE,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(HOSTILE, inner, max_size=3),
    max_leaves=6,
)
DAY_TEXT = st.one_of(st.dates(dt.date(1900, 1, 1), dt.date(2200, 1, 1)).map(dt.date.isoformat), HOSTILE)
LOCK_VALUE = st.fixed_dictionaries({}, optional={
    "reason": st.one_of(st.sampled_from(["maternity", "terminated", "nghỉ thai sản", nfd("nghỉ thai sản")]), HOSTILE),
    "decisionNumber": HOSTILE, "decisionDate": DAY_TEXT, "effectiveDate": DAY_TEXT, "endDate": DAY_TEXT,
})  # fmt: skip
PATHS = st.one_of(
    st.sampled_from(["active", LOCK, f"{LOCK}:reason", f"{LOCK}:decisionNumber", f"{LOCK}:endDate", "userName",
                     "name.givenName", 'emails[type eq "work"].value', "displayName", "meta", "id"]),
    HOSTILE,
)  # fmt: skip
OPERATION = st.fixed_dictionaries(
    {"op": st.one_of(st.sampled_from(["replace", "add", "remove", "Replace"]), HOSTILE)},
    optional={"path": PATHS, "value": st.one_of(st.booleans(), LOCK_VALUE, JSON,
                                               st.fixed_dictionaries({"active": st.booleans(), LOCK: LOCK_VALUE}))},
)  # fmt: skip
SCHEMAS = st.one_of(st.just([USER, LOCK]), st.just([USER]), st.lists(HOSTILE, max_size=2))
PATCH_BODY = st.one_of(
    st.fixed_dictionaries({"schemas": st.one_of(st.just([PATCH]), st.lists(HOSTILE, max_size=2)),
                           "Operations": st.lists(OPERATION, max_size=3)}),
    JSON,
)  # fmt: skip


def user_body(user_names: list[str]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.fixed_dictionaries({"schemas": SCHEMAS}, optional={
            "userName": st.one_of(st.sampled_from(user_names), HOSTILE), "active": st.one_of(st.booleans(), HOSTILE),
            LOCK: LOCK_VALUE, "displayName": HOSTILE, "externalId": HOSTILE,
            "name": st.dictionaries(st.sampled_from(["givenName", "familyName", "formatted"]), HOSTILE),
            "emails": st.lists(st.fixed_dictionaries({"value": HOSTILE}), max_size=2),
        }),
        JSON,
    )  # fmt: skip


SEARCH_BODY = st.one_of(
    st.fixed_dictionaries({"schemas": st.one_of(st.just([SEARCH]), st.lists(HOSTILE, max_size=2))}, optional={
        "filter": st.one_of(HOSTILE, HOSTILE.map(lambda v: f'userName eq "{v}"')),
        "startIndex": NUMBER, "count": NUMBER, "attributes": st.lists(HOSTILE, max_size=2),
        "excludedAttributes": st.lists(HOSTILE, max_size=2),
    }),
    JSON,
)  # fmt: skip
QUERY = st.fixed_dictionaries({}, optional={
    "filter": st.one_of(HOSTILE, HOSTILE.map(lambda v: f'userName eq "{v}"')),
    "startIndex": NUMBER.map(str), "count": NUMBER.map(str), "attributes": HOSTILE, "excludedAttributes": HOSTILE,
})  # fmt: skip


@dataclass
class Tally:
    """Requests per operation and what went wrong, for bench/results/reliability.json."""

    tried: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    server_errors: int = 0
    writes_on_refusal: int = 0
    vague: int = 0
    accepted: int = 0
    problems: dict[str, str] = field(default_factory=dict)
    #: Recorded under ``hostile_input.scim_bodies`` (bounded) or ``…_long``.
    key: str = "hostile_input.scim_bodies"


@dataclass
class Bed:
    app: FastAPI
    engine: Engine
    tables: list[str]
    stack: Stack
    targets: list[str]
    secret: str
    tally: Tally
    token: str = ""
    token_at: float = 0.0

    def headers(self) -> dict[str, str]:
        if time.monotonic() - self.token_at > 200:  # a client-credentials token lives 5 minutes
            kc = self.stack.settings.keycloak
            answer = client_credentials_token(server_url=kc.url, realm=kc.realm, client_id=CLIENT,
                                              client_secret=self.secret)  # fmt: skip
            self.token, self.token_at = str(answer["access_token"]), time.monotonic()
        return {"Authorization": f"Bearer {self.token}", "Content-Type": "application/scim+json"}


@pytest.fixture(scope="module")
def bed(stack: Stack, postgres: PostgresServer) -> Iterator[Bed]:
    postgres.create_database(DATABASE)
    upgrade(url=postgres.owner_url(DATABASE), app_role=APP_ROLE)
    engine = make_engine(postgres.app_url(DATABASE))
    directory = LdapDirectory(stack.settings.directory)
    app = create_app(factory=sessionmaker(engine, expire_on_commit=False), directory=directory,
                     validator=TokenValidator.from_settings(stack.settings), config_dir=CONFIG)  # fmt: skip
    admin = bootstrap_admin(stack.settings, stack.settings.keycloak.realm)
    uuid = admin.get("clients", clientId=CLIENT)[0]["id"]
    secret = str(admin.get(f"clients/{uuid}/client-secret")["value"])
    targets = [person_in(stack, "01", 108).mail, person_in(stack, "01", 109).mail, person_in(stack, "79").mail]
    tally = Tally()
    try:
        yield Bed(app, engine, store_tables(engine), stack, targets, secret, tally)
    finally:
        record_result(tally.key, {
            "test": "tests/reliability/test_hostile_scim.py",
            "how": "Hypothesis-generated SCIM bodies (PatchOp, User, SearchRequest) and list queries with hostile "
                   "strings; token: client credentials of scim-hr-01000 from the real realm; store PostgreSQL",
            "tried": sum(tally.tried.values()), "per_operation": dict(tally.tried),
            "statuses": dict(sorted(tally.statuses.items())), "accepted_2xx": tally.accepted,
            "server_errors": tally.server_errors, "writes_on_refusal": tally.writes_on_refusal,
            "refusals_without_a_precise_scim_error": tally.vague,
            "failed": len(tally.problems), "lost": tally.writes_on_refusal,
            "problems": list(tally.problems.values())[:20],
        })  # fmt: skip
        directory.close()
        engine.dispose()
        postgres.drop_database(DATABASE)


def send(bed: Bed, client: TestClient, operation: str, method: str, path: str, **kwargs: Any) -> None:
    """One request; what it broke goes into the tally (one line per distinct problem)."""
    tally = bed.tally
    if "json" in kwargs:  # encoded here: httpx refuses a lone surrogate, a hostile client sends it escaped
        kwargs["content"] = json.dumps(kwargs.pop("json")).encode()
    if "params" in kwargs:  # the same for a query value
        query = {k: v.encode("utf-8", errors="surrogatepass") for k, v in kwargs.pop("params").items()}
        path = f"{path}?{urlencode(query)}"
    before = row_counts(bed.engine, bed.tables)
    answer = client.request(method, path, headers=bed.headers(), **kwargs)
    after = row_counts(bed.engine, bed.tables)
    tally.tried[operation] += 1
    tally.statuses[str(answer.status_code)] += 1
    sent = str(kwargs.get("content", path))[:200]
    if answer.status_code >= 500:
        tally.server_errors += 1
        tally.problems.setdefault(f"{operation} 5xx {answer.text[:80]}", f"{operation} {path[:80]} {sent}: "
                                  f"{answer.status_code} {answer.text[:200]}")  # fmt: skip
        return
    if answer.status_code < 400:
        tally.accepted += 1
        return
    written = {k: after[k] - before[k] for k in after if after[k] != before[k] and k != "ledger.refused"}
    if written:
        tally.writes_on_refusal += 1
        tally.problems.setdefault(f"{operation} wrote {sorted(written)}", f"{operation} {sent}: {written}")
    body = answer.json() if answer.headers.get("content-type", "").startswith("application/scim+json") else {}
    detail = str(body.get("detail") or "")
    if (
        body.get("schemas") != [ERROR]
        or body.get("status") != str(answer.status_code)
        or len(detail) < 10
        or ("internal" in detail)
    ):
        tally.vague += 1
        tally.problems.setdefault(f"{operation} vague {answer.status_code}", f"{operation} {sent}: {answer.text[:200]}")


def user_path(bed: Bed, index: int, hostile: str | None) -> str:
    user_id = hostile if hostile is not None else bed.targets[index % len(bed.targets)]
    return "/scim/v2/Users/" + quote(user_id.encode("utf-8", errors="surrogatepass"), safe="")


def fuzz(bed: Bed, examples: int) -> None:
    names = bed.targets + [t.upper() for t in bed.targets]
    common = settings(max_examples=examples, deadline=None, database=None, derandomize=False,
                      suppress_health_check=list(HealthCheck))  # fmt: skip
    with TestClient(bed.app) as client:
        who = st.tuples(st.integers(0, 2), st.one_of(st.none(), st.none(), HOSTILE))

        @common
        @given(who=who, body=PATCH_BODY)
        def patch(who: tuple[int, str | None], body: Any) -> None:
            send(bed, client, "PATCH /Users/{id}", "PATCH", user_path(bed, *who), json=body)

        @common
        @given(who=who, body=user_body(names))
        def put(who: tuple[int, str | None], body: Any) -> None:
            send(bed, client, "PUT /Users/{id}", "PUT", user_path(bed, *who), json=body)

        @common
        @given(body=user_body(names))
        def post(body: Any) -> None:
            send(bed, client, "POST /Users", "POST", "/scim/v2/Users", json=body)

        @common
        @given(body=SEARCH_BODY, root=st.booleans())
        def search(body: Any, root: bool) -> None:
            send(bed, client, "POST /Users/.search", "POST", "/scim/v2/.search" if root else "/scim/v2/Users/.search",
                 json=body)  # fmt: skip

        @common
        @given(params=QUERY, who=who)
        def listing(params: dict[str, str], who: tuple[int, str | None]) -> None:
            send(bed, client, "GET /Users", "GET", "/scim/v2/Users", params=params)
            send(bed, client, "GET /Users/{id}", "GET", user_path(bed, *who), params=params)

        for run in (patch, put, post, search, listing):
            run()


def check(bed: Bed) -> None:
    tally = bed.tally
    assert tally.problems == {}, "\n".join(tally.problems.values())
    assert tally.server_errors == 0 and tally.writes_on_refusal == 0 and tally.vague == 0
    # what was accepted (lock decisions, their ledger rows) holds no control character and nothing but NFC
    assert not_nfc_in_store(bed.engine) == []
    assert controls_in_store(bed.engine) == []


def test_hostile_scim_bodies_get_precise_scim_errors_and_write_nothing(bed: Bed) -> None:
    fuzz(bed, BOUNDED)
    check(bed)
    assert sum(bed.tally.tried.values()) >= 5 * BOUNDED


@pytest.mark.reliability_long
def test_hostile_scim_bodies_long(bed: Bed) -> None:
    bed.tally.key = "hostile_input.scim_bodies_long"
    fuzz(bed, LONG)
    check(bed)
