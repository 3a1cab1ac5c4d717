"""Fixtures: the real servers start once per test session, only when an integration test asks for them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.adapters.keycloak.admin import KeycloakAdmin, service_account_admin
from bridge.clock import today_vn
from bridge.domain.catalogue import Application, load_applications
from bridge.domain.units import UnitTree, load_units
from bridge.services.keycloak_config import bootstrap_admin
from bridge.settings import PROJECT_ROOT
from bridge.testbed.postgres_server import PostgresServer
from bridge.testbed.stack import Stack, start_stack

CONFIG = PROJECT_ROOT / "keycloak-config"


@pytest.fixture(scope="session")
def units() -> UnitTree:
    return load_units(CONFIG / "units.yaml")


@pytest.fixture(scope="session")
def apps() -> tuple[Application, ...]:
    return load_applications(CONFIG / "applications.yaml")


@pytest.fixture(scope="session")
def today() -> dt.date:
    return today_vn()


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """slapd with 2,000 generated people + Keycloak 26 with the realm applied, for the whole session."""
    running = start_stack(size=2000)
    yield running
    running.close()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One private PostgreSQL cluster for the whole session; each test that needs it makes its own database."""
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="session")
def admin(stack: Stack) -> KeycloakAdmin:
    """Admin REST as the bootstrap administrator (test set-up and inspection only)."""
    return bootstrap_admin(stack.settings, stack.units.realm)


@pytest.fixture(scope="session")
def bridge_admin(stack: Stack) -> KeycloakAdmin:
    """Admin REST as the bridge's own least-privilege service account."""
    return service_account_admin(stack.settings.keycloak, realm=stack.units.realm)


@pytest.fixture()
def config_dir(tmp_path: Path) -> Path:
    """A writable copy of keycloak-config/ for tests that break it on purpose."""
    target = tmp_path / "keycloak-config"
    target.mkdir()
    for item in CONFIG.iterdir():
        if item.is_file():
            (target / item.name).write_bytes(item.read_bytes())
    return target
