"""Fixtures of the lock store tests: a migrated, seeded store on SQLite (and PostgreSQL for claiming)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bridge.adapters.store.migrate import upgrade
from bridge.adapters.store.session import make_engine, transaction
from bridge.domain.role_levels import Catalogue, load_catalogue
from bridge.domain.units import UnitTree, load_units
from bridge.services.context import GovContext
from bridge.settings import PROJECT_ROOT
from bridge.testbed.postgres_server import APP_ROLE, PostgresServer
from tests.locks.lock_world import DAY, DIRECTORY, seed

CONFIG = PROJECT_ROOT / "keycloak-config"


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue(CONFIG / "applications.yaml")


@pytest.fixture(scope="session")
def lock_units() -> UnitTree:
    return load_units(CONFIG / "units.yaml")


@pytest.fixture()
def ctx(lock_units: UnitTree, catalogue: Catalogue) -> GovContext:
    return GovContext(lock_units, catalogue, DIRECTORY, DAY)


@pytest.fixture(scope="session")
def pg(postgres: PostgresServer) -> PostgresServer:
    """The session's one PostgreSQL cluster (tests/conftest.py)."""
    return postgres


def _seeded(url: str, lock_units: UnitTree, catalogue: Catalogue) -> sessionmaker[Session]:
    factory = sessionmaker(make_engine(url), expire_on_commit=False)
    with transaction(factory) as session:
        seed(session, units=lock_units, catalogue=catalogue)
    return factory


@pytest.fixture()
def factory(tmp_path: Path, lock_units: UnitTree, catalogue: Catalogue) -> sessionmaker[Session]:
    url = f"sqlite:///{tmp_path / 'locks.sqlite3'}"
    upgrade(url=url)
    return _seeded(url, lock_units, catalogue)


@pytest.fixture(params=["sqlite", "postgresql"])
def any_factory(
    request: pytest.FixtureRequest, tmp_path: Path, lock_units: UnitTree, catalogue: Catalogue
) -> Iterator[sessionmaker[Session]]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'locks.sqlite3'}"
        upgrade(url=url)
        yield _seeded(url, lock_units, catalogue)
        return
    server: PostgresServer = request.getfixturevalue("pg")
    name = f"locks_{abs(hash(request.node.name)) % 10**8}"
    server.create_database(name)
    upgrade(url=server.owner_url(name), app_role=APP_ROLE)
    made = _seeded(server.app_url(name), lock_units, catalogue)
    yield made
    made.kw["bind"].dispose()
    server.drop_database(name)
