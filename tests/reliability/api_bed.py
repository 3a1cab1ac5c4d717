"""The API on the real realm, slapd and PostgreSQL, with valid tokens of three roles (issue 17, item 3).

Tokens are signed by an RSA key imported into the real realm as a low-priority key provider, so they pass the
production validator (signature from the realm's JWKS, issuer, audience, and the holder read from the realm's
admin REST), and they outlive a long fuzzing run, which a login's five-minute token would not.
The store is a fresh PostgreSQL database; :func:`row_counts` counts every table of it, so a test can prove that
a refusal wrote nothing but its ``refused`` ledger row.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import Engine, MetaData, func, inspect, select, table, text, union_all
from sqlalchemy.orm import Session, sessionmaker

from bridge.adapters.directory.ldap import LdapDirectory
from bridge.adapters.directory.lookup import DirectoryLookup
from bridge.adapters.keycloak.admin import KeycloakAdmin
from bridge.adapters.store.migrate import upgrade
from bridge.adapters.store.models import LedgerEntry
from bridge.adapters.store.session import make_engine, transaction
from bridge.clock import today_vn
from bridge.domain.policy import AdminRole
from bridge.domain.role_levels import load_catalogue
from bridge.domain.text import control_characters
from bridge.interfaces.api.app import create_app
from bridge.interfaces.api.auth import TokenValidator
from bridge.services.context import GovContext, load_actor
from bridge.services.persons import appoint_administrator
from bridge.testbed.directory_gen import Person
from bridge.testbed.postgres_server import APP_ROLE, PostgresServer
from bridge.testbed.stack import Stack
from tests.integration.test_foundation import user_id

CONFIG = Path(__file__).resolve().parents[2] / "keycloak-config"
AUDIENCE = "bhxh-bridge-api"
IT_UNIT = "00012"
HN_UNIT = "01000"


RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results" / "reliability.json"


def record_result(key: str, result: dict[str, Any], *, variant: str | None = None) -> None:
    """Put ``result`` under ``key`` (under ``key`` → ``variant`` when one is named, beside what the key already
    holds) in bench/results/reliability.json when ``RELIABILITY_RECORD=1`` (``make reliability`` sets it;
    ``make test`` leaves the committed results alone). Always printed."""
    print(f"{key}: {json.dumps(result, ensure_ascii=False)}", file=sys.stderr)
    if os.environ.get("RELIABILITY_RECORD") != "1":
        return
    data = json.loads(RESULTS.read_text())
    stamped = result | {"measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                        "machine_load": [round(x, 2) for x in os.getloadavg()]}  # fmt: skip
    if variant is None:
        data[key] = stamped
    else:
        data.setdefault(key, {})[variant] = stamped
    RESULTS.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


@dataclass
class RealmKey:
    """A key the realm publishes (and the component to delete afterwards)."""

    issuer: str
    key: RSAKey
    component: str

    def token(self, person: Person, sub: str, lifetime_s: int = 4 * 3600, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": self.issuer, "aud": AUDIENCE, "exp": now + lifetime_s, "iat": now, "email": person.mail,
                "typ": "Bearer", "azp": "bhxh-bridge-ui", "sub": sub} | claims  # fmt: skip
        return jwt.encode({"alg": "RS256", "kid": self.key.kid, "typ": "JWT"}, body, self.key)


def import_realm_key(stack: Stack, admin: KeycloakAdmin, name: str) -> RealmKey:
    issuer = f"{stack.settings.keycloak.url}/realms/{stack.units.realm}"
    local = RSAKey.generate_key(2048, private=True)
    component = admin.post(
        "components",
        {
            "name": name,
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
    return RealmKey(issuer, RSAKey.import_key(local.as_dict(private=True) | {"kid": mine[0]["kid"]}), str(component))


@dataclass
class ApiBed:
    """The API (production wiring) over its own PostgreSQL store and the real directory, and a token per role."""

    app: FastAPI
    engine: Engine
    tokens: dict[str, str]
    people: dict[str, Person]
    tables: list[str] = field(default_factory=list)

    def row_counts(self) -> dict[str, int]:
        return row_counts(self.engine, self.tables)


def store_tables(engine: Engine) -> list[str]:
    return sorted(t for t in inspect(engine).get_table_names() if t != "alembic_version")


def row_counts(engine: Engine, tables: list[str]) -> dict[str, int]:
    """Rows of every table; the ledger split into ``refused`` rows (``ledger.refused``) and all others."""
    parts = [select(text(f"'{name}'"), func.count()).select_from(table(name)) for name in tables]
    ledger = LedgerEntry.__table__
    with engine.connect() as conn:
        counts = {str(name): int(n) for name, n in conn.execute(union_all(*parts))}
        refused = conn.execute(select(func.count()).select_from(ledger).where(ledger.c.outcome == "refused"))
        counts["ledger.refused"] = int(refused.scalar_one())
    counts[ledger.name] -= counts["ledger.refused"]
    return counts


def appoint(
    stack: Stack, factory: sessionmaker[Session], directory: DirectoryLookup, people: dict[str, Person]
) -> None:
    """``people["it"]`` becomes an IT Center administrator, ``people["province"]`` Hà Nội's administrator."""
    ctx = GovContext(stack.units, load_catalogue(CONFIG / "applications.yaml"), directory, today_vn())
    with transaction(factory) as session:
        appoint_administrator(session, ctx=ctx, actor=None, email=people["it"].mail, role=AdminRole.IT_CENTER_ADMIN,
                              unit_code=IT_UNIT)  # fmt: skip
        it = load_actor(session, email=people["it"].mail)
        appoint_administrator(session, ctx=ctx, actor=it, email=people["province"].mail,
                              role=AdminRole.PROVINCE_ADMIN, unit_code=HN_UNIT)  # fmt: skip


def start_api_bed(
    stack: Stack, admin: KeycloakAdmin, postgres: PostgresServer, *, database: str, people: dict[str, Person],
    realm_key: RealmKey,
) -> Iterator[ApiBed]:  # fmt: skip
    """``people``: ``it`` (made IT Center administrator), ``province`` (Hà Nội's administrator), ``staff``."""
    postgres.create_database(database)
    upgrade(url=postgres.owner_url(database), app_role=APP_ROLE)
    engine = make_engine(postgres.app_url(database))
    factory = sessionmaker(engine, expire_on_commit=False)
    directory = LdapDirectory(stack.settings.directory)
    appoint(stack, factory, directory, people)
    validator = TokenValidator.from_settings(stack.settings)
    app = create_app(factory=factory, directory=directory, validator=validator, config_dir=CONFIG)
    tokens = {role: realm_key.token(person, user_id(admin, person)) for role, person in people.items()}
    try:
        yield ApiBed(app, engine, tokens, people, store_tables(engine))
    finally:
        directory.close()
        engine.dispose()
        postgres.drop_database(database)


def texts_of(value: Any) -> Iterator[str]:
    """Every string in a stored value, JSON columns' keys and items included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from texts_of(k)
            yield from texts_of(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from texts_of(v)


def texts_in_store(engine: Engine, bad: Callable[[str], bool]) -> list[str]:
    """``table.column: text`` of every stored string ``bad`` says is wrong, in every table of the store."""
    meta = MetaData()
    meta.reflect(engine)
    found = []
    with engine.connect() as conn:
        for stored in meta.sorted_tables:
            for row in conn.execute(select(stored)):
                for column, value in row._mapping.items():
                    found += [f"{stored.name}.{column}: {t[:80]!r}" for t in texts_of(value) if bad(t)]
    return found


def not_nfc_in_store(engine: Engine) -> list[str]:
    """Stored strings that are not NFC."""
    return texts_in_store(engine, lambda t: unicodedata.normalize("NFC", t) != t)


def controls_in_store(engine: Engine) -> list[str]:
    """Stored strings holding control characters."""
    return texts_in_store(engine, lambda t: bool(control_characters(t)))
