"""Fixtures of the governance tests: the unit tree, the catalogue, and a migrated store on SQLite and
PostgreSQL.

Every store test runs twice: on a fresh SQLite file and on a fresh database of a private PostgreSQL cluster
started once per session (the application connects as the restricted role, as in production).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bridge.governance.catalogue import Catalogue, load_catalogue
from bridge.store.migrate import upgrade
from bridge.store.session import make_engine
from bridge.testbed.postgres_server import APP_ROLE, PostgresServer
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
