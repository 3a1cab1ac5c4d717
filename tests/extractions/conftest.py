"""Fixtures of the data-extraction tests: a migrated, seeded store on the session's real PostgreSQL."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bridge.adapters.store.migrate import upgrade
from bridge.adapters.store.session import make_engine, transaction
from bridge.domain.role_levels import Catalogue, load_catalogue
from bridge.domain.units import UnitTree, load_units
from bridge.settings import PROJECT_ROOT
from bridge.testbed.postgres_server import APP_ROLE, PostgresServer
from tests.extractions.extraction_world import seed

CONFIG = PROJECT_ROOT / "keycloak-config"
_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue(CONFIG / "applications.yaml")


@pytest.fixture(scope="session")
def tree() -> UnitTree:
    return load_units(CONFIG / "units.yaml")


@pytest.fixture()
def pg_url(postgres: PostgresServer) -> Iterator[str]:
    """A fresh database of the session's PostgreSQL, migrated by its owner; the bridge uses the app role."""
    name = f"extr_{next(_numbers)}_{abs(hash(Path.cwd())) % 10**6}"
    postgres.create_database(name)
    upgrade(url=postgres.owner_url(name), app_role=APP_ROLE)
    yield postgres.app_url(name)
    postgres.drop_database(name)


@pytest.fixture()
def factory(pg_url: str, tree: UnitTree, catalogue: Catalogue) -> Iterator[sessionmaker[Session]]:
    made = sessionmaker(make_engine(pg_url), expire_on_commit=False)
    with transaction(made) as session:
        seed(session, units=tree, catalogue=catalogue)
    yield made
    made.kw["bind"].dispose()
