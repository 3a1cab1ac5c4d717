"""Initial provisioning through Keycloak's own federation import (bridge.services.sync.bulk) on the real servers.

A run whose joiners are many and most of the directory imports them in bulk with the bridge's own service
account, then joins each person's unit group with the id read per unit: no per-person import lookup.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bridge.adapters.keycloak.admin import service_account_admin
from bridge.adapters.store.models import LedgerEntry
from bridge.adapters.store.session import session_factory, transaction
from bridge.domain.sync.planner import OpKind
from bridge.domain.units import UnitTree
from bridge.services.sync.run import run_sync
from bridge.testbed.stack import Stack
from tests.integration.sync_world import World, sync_world

pytestmark = pytest.mark.integration
SIZE = 240


@pytest.fixture(scope="module")
def world(stack: Stack, units: UnitTree) -> Iterator[World]:
    with sync_world(stack, units, name="sync-bulk", size=SIZE, seed=21) as created:
        created.settings.sync.bulk_import_min = 50
        yield created


def test_initial_run_imports_in_bulk_and_joins_every_unit_group(world: World) -> None:
    kc = service_account_admin(world.settings.keycloak)
    report = asyncio.run(run_sync(settings=world.settings, units=world.units, day=world.day, full=True, admin=kc))

    assert report.status == "applied", (report.error, report.failed[:3])
    assert report.bulk is not None and report.bulk["ids_found"] == SIZE
    assert report.applied == SIZE
    units = {world.units.group_path(p.unit_code, world.day) for p in world.people}
    # One attribute search per unit instead of one import lookup per person.
    lookups = kc.calls.by_kind.get("GET users", 0)
    assert lookups <= len(units), (lookups, len(units))
    with transaction(session_factory(world.settings.store.url)) as session:
        rows = session.scalars(select(LedgerEntry).where(LedgerEntry.action == "sync.federation_import")).all()
    assert len(rows) == 1
    assert rows[0].detail["ids_found"] == SIZE and rows[0].detail["failed"] == 0
    for person in world.people[:: SIZE // 12]:
        user = world.user(person.mail)
        assert world.groups_of(user["id"]) == {world.units.group_path(person.unit_code, world.day)}
        assert user["enabled"] is True and user["federationLink"]


def test_rerun_after_bulk_import_writes_nothing(world: World) -> None:
    report = world.sync(full=True)

    assert report.status == "applied"
    assert report.bulk is None
    assert [op for op in report.ops if op.kind is OpKind.ENSURE] == []
    assert report.writes == 0
