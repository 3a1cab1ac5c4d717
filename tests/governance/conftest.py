"""Fixtures of the governance tests: the unit tree, the catalogue, and a migrated store on SQLite and
PostgreSQL.

Every store test runs twice: on a fresh SQLite file and on a fresh database of a private PostgreSQL cluster
started once per session (the application connects as the restricted role, as in production).
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from gov_world import DAY, DIRECTORY, World, seed
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bridge.api.app import create_app
from bridge.governance.catalogue import Catalogue, load_catalogue
from bridge.store.migrate import upgrade
from bridge.store.session import make_engine, transaction
from bridge.testbed.local_issuer import LocalIssuer
from bridge.testbed.postgres_server import APP_ROLE, OWNER_ROLE, PostgresServer
from bridge.units import UnitTree, load_units

CONFIG = Path(__file__).resolve().parents[2] / "keycloak-config"
_db_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def units() -> UnitTree:
    return load_units(CONFIG / "units.yaml")


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue(CONFIG / "applications.yaml")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        yield server


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
def issuer() -> Iterator[LocalIssuer]:
    """RS256 tokens and their JWKS over HTTP (until the test bed's real Keycloak realm replaces it)."""
    with LocalIssuer() as local:
        yield local


@dataclass
class Seeded:
    """A seeded store kept as a template; :meth:`clone` gives each test case its own copy."""

    kind: str
    world: World
    app: FastAPI
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


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def seeded(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    units: UnitTree,
    catalogue: Catalogue,
    issuer: LocalIssuer,
) -> Seeded:
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
    app = create_app(factory=sessionmaker(engine), directory=DIRECTORY, validator=issuer.validator(), config_dir=CONFIG)
    app.state.on_date = DAY
    return Seeded(request.param, world, app, template, server, tmp)
