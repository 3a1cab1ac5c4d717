"""Fixtures of the governance tests: the unit tree, the catalogue, a migrated store on SQLite and PostgreSQL,
and the test bed's real Keycloak realm for the API.

Every store test runs twice: on a fresh SQLite file and on a fresh database of a private PostgreSQL cluster
started once per session (the application connects as the restricted role, as in production). The API of the
seeded world validates access tokens issued by the stack's real realm (``realm``) against its real JWKS; the
world's people are real entries of the stack's directory and log in through the realm (gov_realm.py).
"""

from __future__ import annotations

import dataclasses
import itertools
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from gov_realm import Realm
from gov_world import DAY, DIRECTORY, World, seed
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bridge.adapters.store.migrate import upgrade
from bridge.adapters.store.session import make_engine, transaction
from bridge.domain.role_levels import Catalogue, load_catalogue
from bridge.domain.units import UnitTree, load_units
from bridge.interfaces.api.app import create_app
from bridge.testbed.local_issuer import LocalIssuer
from bridge.testbed.postgres_server import APP_ROLE, OWNER_ROLE, PostgresServer
from bridge.testbed.stack import Stack
from tests.api_overrides import fix_day

CONFIG = Path(__file__).resolve().parents[2] / "keycloak-config"
_db_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def units() -> UnitTree:
    return load_units(CONFIG / "units.yaml")


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue(CONFIG / "applications.yaml")


@dataclass
class Store:
    """A migrated store: the application's URL and sessions, and a privileged URL to tamper with."""

    kind: str
    url: str
    engine: Engine
    factory: sessionmaker[Session]
    #: Owner (SQLite: same file; PostgreSQL: the superuser, who can also disable the ledger's trigger).
    admin_url: str


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'bridge.sqlite3'}"
        upgrade(url=url)
        admin_url = url
        server = None
        name = ""
    else:
        server = request.getfixturevalue("postgres")
        name = f"t{next(_db_numbers)}"
        server.create_database(name)
        upgrade(url=server.owner_url(name), app_role=APP_ROLE)
        url, admin_url = server.app_url(name), server.superuser_url(name)
    engine = make_engine(url)
    yield Store(request.param, url, engine, sessionmaker(engine, expire_on_commit=False), admin_url)
    engine.dispose()
    if server is not None:
        server.drop_database(name)


@pytest.fixture(scope="session")
def realm(stack: Stack) -> Realm:
    """The stack's real realm with the world's people added to its directory; real access tokens per caller."""
    found = Realm(stack)
    found.add_people()
    return found


@pytest.fixture(scope="session")
def issuer() -> Iterator[LocalIssuer]:
    """A key the tests control, only to craft tokens Keycloak would never issue (expired, no e-mail, other
    issuer) and check the validator refuses them; every other token comes from the real realm (``realm``)."""
    with LocalIssuer() as local:
        yield local


@dataclass
class SeededStore:
    """A seeded store kept as a template; :meth:`clone` gives each test case its own copy."""

    kind: str
    world: World
    template_url: str
    _template: str
    _server: PostgresServer | None
    _tmp: Path

    @contextmanager
    def clone(self) -> Iterator[Store]:
        name = f"c{next(_db_numbers)}"
        if self._server is None:
            path = self._tmp / f"{name}.sqlite3"
            shutil.copyfile(self._template, path)
            url = admin_url = f"sqlite:///{path}"
        else:
            with self._server.superuser_connection() as conn:
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self._template}" OWNER {OWNER_ROLE}')
            url, admin_url = self._server.app_url(name), self._server.superuser_url(name)
        engine = make_engine(url)
        try:
            yield Store(self.kind, url, engine, sessionmaker(engine, expire_on_commit=False), admin_url)
        finally:
            engine.dispose()
            if self._server is not None:
                self._server.drop_database(name)


@dataclass
class Seeded(SeededStore):
    """The seeded store and the API on it, validating the real realm's tokens."""

    app: FastAPI


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def seeded_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, units: UnitTree, catalogue: Catalogue
) -> SeededStore:
    tmp = tmp_path_factory.mktemp(f"seed-{request.param}")
    server: PostgresServer | None = None
    if request.param == "sqlite":
        template = str(tmp / "template.sqlite3")
        url = f"sqlite:///{template}"
        upgrade(url=url)
    else:
        server = request.getfixturevalue("postgres")
        template = "gov_template"
        server.create_database(template)
        upgrade(url=server.owner_url(template), app_role=APP_ROLE)
        url = server.app_url(template)
    engine = make_engine(url)
    with transaction(sessionmaker(engine, expire_on_commit=False)) as session:
        world = seed(session, units=units, catalogue=catalogue)
    engine.dispose()
    return SeededStore(request.param, world, url, template, server, tmp)


@pytest.fixture(scope="session")
def seeded(seeded_store: SeededStore, realm: Realm) -> Seeded:
    """The API on the seeded store (each case points it at its own clone), validating the real realm's tokens."""
    fields = {f.name: getattr(seeded_store, f.name) for f in dataclasses.fields(seeded_store)}
    # Until a case points it at its own clone, the API's sessions would open on the (unused) template.
    factory = sessionmaker(make_engine(seeded_store.template_url))
    app = create_app(factory=factory, directory=DIRECTORY, validator=realm.validator(), config_dir=CONFIG)
    fix_day(app, DAY)
    return Seeded(**fields, app=app)
