"""The safety valve on the real servers: half the directory gone halts the run before any write, two central
administrators release it; an empty or failed directory read disables nobody."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bridge.adapters.store.models import Administrator, ApprovalRequest
from bridge.adapters.store.session import session_factory, transaction
from bridge.domain.sync.planner import OpKind, Reason
from bridge.domain.units import UnitTree
from bridge.interfaces.cli.sync import app
from bridge.services.approval_views import valve_plan
from bridge.services.sync import valve
from bridge.settings import get_settings
from bridge.testbed.stack import Stack
from tests.integration.sync_world import World, sync_world

pytestmark = pytest.mark.integration
CENTRAL = ("quantri1@vss.gov.vn", "quantri2@vss.gov.vn")
PROVINCIAL = "quantri@hanoi.vss.gov.vn"


@pytest.fixture(scope="module")
def world(stack: Stack, units: UnitTree) -> Iterator[World]:
    with sync_world(stack, units, name="sync-valve", size=200, seed=11) as created:
        assert created.sync(full=True).applied == 200
        now = dt.datetime.now(dt.UTC)
        with transaction(session_factory(created.settings.store.url)) as session:
            for email in CENTRAL:
                session.add(
                    Administrator(
                        email=email,
                        role="it_center_admin",
                        unit_code="00012",
                        appointed_by="bootstrap",
                        appointed_at=now,
                    )
                )
            session.add(
                Administrator(
                    email=PROVINCIAL,
                    role="province_admin",
                    unit_code="01000",
                    appointed_by=CENTRAL[0],
                    appointed_at=now,
                )
            )
        yield created


@pytest.fixture()
def approve(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    for key, value in world.env().items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_failed_or_empty_directory_read_disables_nobody(world: World) -> None:
    missing = world.settings.model_copy(deep=True)
    missing.directory.people_base = "ou=missing,dc=vss,dc=gov,dc=vn"
    failed = world.sync(full=True, settings=missing)
    assert failed.status == "failed" and failed.writes == 0 and "directory" in (failed.error or "")
    world.slapd.modify(
        "dn: ou=empty,dc=vss,dc=gov,dc=vn\nchangetype: add\nobjectClass: organizationalUnit\nou: empty\n"
    )
    empty = world.settings.model_copy(deep=True)
    empty.directory.people_base = "ou=empty,dc=vss,dc=gov,dc=vn"
    report = world.sync(full=True, settings=empty)
    assert report.directory_size == 0
    assert [o for o in report.ops if o.kind is OpKind.DISABLE] == [] and report.writes == 0


def test_half_the_directory_removed_halts_until_two_central_admins_release(world: World, approve: CliRunner) -> None:
    gone = world.people[::2]
    ids = {p.mail: world.users(p.mail)[0]["id"] for p in gone[:5]}
    world.remove(*gone)
    halted = world.sync(full=True)
    assert halted.status == "halted" and halted.writes == 0 and halted.results == []
    assert halted.verdict.disables == len(gone) and halted.verdict.reasons
    assert all(o.reason is Reason.LEAVER for o in halted.ops)
    with session_factory(world.settings.store.url)() as session:  # what the console's Phê duyệt page shows
        shown = valve_plan(session, subject=valve.valve_subject(halted.plan_hash, halted.realm))
    assert shown.by_unit == halted.verdict.by_unit and sum(shown.by_unit.values()) == len(gone)
    assert sorted(leaver["email"] for leaver in shown.leavers) == sorted(p.mail for p in gone)

    refused = approve.invoke(app, ["sync", "approve", halted.plan_hash, "--as", PROVINCIAL])
    assert refused.exit_code == 2 and "R15-central-admins-release" in refused.output
    first = approve.invoke(app, ["sync", "approve", halted.plan_hash, "--as", CENTRAL[0]])
    assert first.exit_code == 0 and "pending" in first.output
    assert approve.invoke(app, ["sync", "approve", halted.plan_hash, "--as", CENTRAL[0]]).exit_code == 2
    still = world.sync(full=True)
    assert still.status == "halted" and still.writes == 0 and still.plan_hash == halted.plan_hash

    second = approve.invoke(app, ["sync", "approve", halted.plan_hash, "--as", CENTRAL[1]])
    assert second.exit_code == 0 and "approved" in second.output
    with transaction(session_factory(world.settings.store.url)) as session:
        request = session.scalars(select(ApprovalRequest).where(ApprovalRequest.id == halted.approval_id)).one()
        assert {d.approver for d in request.decisions if d.approved} == set(CENTRAL)

    released = world.sync(full=True)
    assert released.status == "applied" and released.plan_hash == halted.plan_hash
    assert released.applied == len(gone)
    for mail, user_id in ids.items():
        user = world.admin.get(f"users/{user_id}")  # kept, not deleted
        assert user["email"] == mail and user["enabled"] is False
