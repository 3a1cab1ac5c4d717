"""Directory → Keycloak sync on the real servers: joiner, mover, leaver, returner, reorganisation, bad input,
idempotence. Each test acts on its own people, so the tests hold in any order."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from bridge.adapters.store.session import session_factory, transaction
from bridge.clock import format_vn
from bridge.domain.sync.planner import OpKind, Reason
from bridge.domain.units import UnitTree, UnitType
from bridge.interfaces.cli.sync import app
from bridge.services.holds import add_hold
from bridge.services.sync.run import RunReport, watch
from bridge.settings import get_settings
from bridge.testbed.directory_gen import Person
from bridge.testbed.stack import Stack
from tests.integration.sync_world import World, new_person, sync_world

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def world(stack: Stack, units: UnitTree) -> Iterator[World]:
    with sync_world(stack, units, name="sync-main", size=300, seed=7) as created:
        first = created.sync(full=True)
        assert first.status == "applied" and first.applied == 300, (first.error, first.failed[:3])
        yield created


def pick(world: World, index: int, *, unit_type: UnitType | None = None) -> Person:
    """A seeded person reserved for one test (by index into the matching people)."""
    matching = [
        p for p in world.people if unit_type is None or world.units.require(p.unit_code, world.day).type is unit_type
    ]
    return matching[index]


def test_joiner_is_planned_by_dry_run_then_imported_into_its_unit_group(world: World) -> None:
    person = new_person(world.people[0], index=1)
    world.add(person)
    dry = world.sync(dry_run=True)
    assert dry.status == "planned" and dry.writes == 0
    assert [(o.kind, o.reason) for o in dry.ops if o.mail == person.mail] == [(OpKind.ENSURE, Reason.JOINER)]
    report = world.sync()
    assert report.status == "applied"
    user = world.user(person.mail)
    assert user["enabled"] is True
    assert world.groups_of(user["id"]) == {world.units.group_path(person.unit_code, world.day)}
    assert user["attributes"]["unit_code"] == [person.unit_code]  # type: ignore[index]


def test_mover_changes_unit_group_in_an_incremental_run(world: World) -> None:
    person = pick(world, 1, unit_type=UnitType.BRANCH)
    target = world.units.province_of(person.unit_code, world.day)
    assert target is not None
    world.set_unit(person, target.code)
    report = world.sync()
    assert report.mode == "incremental"
    assert [(o.kind, o.reason) for o in report.ops if o.mail == person.mail] == [(OpKind.MOVE, Reason.MOVER)]
    user = world.user(person.mail)
    assert world.groups_of(user["id"]) == {world.units.group_path(target.code, world.day)}


def test_leaver_is_disabled_not_deleted_and_returner_comes_back_with_groups(world: World) -> None:
    person = pick(world, 2)
    before = world.user(person.mail)
    world.remove(person)
    report = world.sync(full=True)
    assert [(o.kind, o.reason) for o in report.ops if o.mail == person.mail] == [(OpKind.DISABLE, Reason.LEAVER)]
    assert report.status == "applied"
    left = world.admin.get(f"users/{before['id']}")  # still there: never deleted
    assert left["enabled"] is False
    assert world.sync(full=True).writes == 0  # disabled once, not again
    world.add(person)
    back = world.sync(full=True)
    assert [(o.kind, o.reason) for o in back.ops if o.mail == person.mail] == [(OpKind.ENABLE, Reason.RETURNER)]
    user = world.user(person.mail)
    assert user["id"] == before["id"] and user["enabled"] is True
    assert world.groups_of(user["id"]) == {world.units.group_path(person.unit_code, world.day)}


def test_returner_under_a_hold_stays_disabled(world: World) -> None:
    person = pick(world, 3)
    world.remove(person)
    assert world.sync(full=True).status == "applied"
    with transaction(session_factory(world.settings.store.url)) as session:
        add_hold(
            session,
            email=person.mail,
            reason="maternity",
            effective_from=world.day - dt.timedelta(days=1),
            effective_to=world.day + dt.timedelta(days=180),
            source="test-hold",
        )
    world.add(person)
    report = world.sync(full=True)
    mine = [(o.kind, o.reason) for o in report.ops if o.mail == person.mail]
    assert (OpKind.ENABLE, Reason.RETURNER) not in mine
    assert world.user(person.mail)["enabled"] is False


def test_reorganisation_moves_a_closed_units_people_to_its_successor(world: World) -> None:
    branch_code = pick(world, 4, unit_type=UnitType.BRANCH).unit_code
    members = [p for p in world.people if p.unit_code == branch_code]
    province = world.units.province_of(branch_code, world.day)
    assert province is not None
    yesterday = world.day - dt.timedelta(days=1)
    closed = tuple(
        dataclasses.replace(u, valid_to=yesterday, successor=province.code)
        if u.code == branch_code and u.valid_on(world.day)
        else u
        for u in world.units.units
    )
    reorganised = UnitTree(units=closed, realm=world.units.realm, group_root=world.units.group_root)
    report = world.sync(full=True, units=reorganised)
    moved = {o.mail for o in report.ops if o.reason is Reason.REORGANISATION and o.kind is OpKind.MOVE}
    assert {p.mail for p in members} <= moved
    for person in members:
        assert world.groups_of(world.user(person.mail)["id"]) == {world.units.group_path(province.code, world.day)}
    again = world.sync(full=True, units=reorganised)
    assert [o for o in again.ops if o.mail in moved] == []


def test_bad_entries_are_reported_with_dn_and_the_rest_proceeds(world: World) -> None:
    template = world.people[5]
    unknown = new_person(template, index=2, unit_code="99999")
    duplicate = dataclasses.replace(new_person(template, index=3), mail=template.mail)
    joiner = new_person(template, index=4)
    for person in (unknown, duplicate, joiner):
        world.add(person)
    world.slapd.modify(
        "dn: uid=nomail,ou=people,dc=vss,dc=gov,dc=vn\nchangetype: add\nobjectClass: inetOrgPerson\n"
        "uid: nomail\ncn: Không Thư\nsn: Không\ndepartmentNumber: 00012\n"
    )
    try:
        report = world.sync(full=True)
        reasons = {r.dn.split(",")[0]: r.reason for r in report.rejected}
        assert "unknown" in reasons[f"uid={unknown.uid}"]
        assert "duplicate mail" in reasons[f"uid={duplicate.uid}"]
        assert "duplicate mail" in reasons[f"uid={template.uid}"]
        assert "no mail" in reasons["uid=nomail"]
        assert report.status == "applied"
        assert world.user(joiner.mail)["enabled"] is True  # the rest proceeded
        assert world.user(template.mail)["enabled"] is True  # a rejected entry's person is never disabled
    finally:
        world.slapd.delete(
            [f"uid={duplicate.uid},ou=people,dc=vss,dc=gov,dc=vn", "uid=nomail,ou=people,dc=vss,dc=gov,dc=vn"]
        )


def test_second_run_writes_nothing(world: World) -> None:
    world.sync(full=True)
    second = world.sync(full=True)
    assert second.status == "applied"
    assert second.ops == [] and second.writes == 0
    assert second.reads <= 300


def test_a_person_of_the_root_unit_is_joined_once_not_by_every_full_run(world: World) -> None:
    """The root unit's people (the leadership of BHXH Việt Nam) belong in the root group itself; its members are
    listed like every unit group's, so the next full run finds them in place and plans nothing for them."""
    root = next(u for u in world.units.units if u.type is UnitType.ROOT)
    leader = dataclasses.replace(
        new_person(world.people[0], index=5, unit_code=root.code), mail="lanh.dao.new5@vss.gov.vn"
    )
    world.add(leader)
    first = world.sync(full=True)
    assert [(o.kind, o.group_path) for o in first.ops if o.mail == leader.mail] == [
        (OpKind.ENSURE, world.units.group_root)
    ]
    assert world.groups_of(world.user(leader.mail)["id"]) == {world.units.group_root}
    again = world.sync(full=True)
    assert [o for o in again.ops if o.mail == leader.mail] == []


def test_plan_command_shows_a_readable_diff_by_unit_and_writes_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    person = pick(world, 6, unit_type=UnitType.BRANCH)
    target = world.units.province_of(person.unit_code, world.day)
    assert target is not None
    world.sync(full=True)
    world.set_unit(person, target.code)
    for key, value in world.env().items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["plan", "--full"], terminal_width=200)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert f"Đơn vị / Unit {target.code}" in result.output
    assert "Chuyển đơn vị / Mover" in result.output and person.mail in result.output
    assert format_vn(world.day) in result.output
    user = world.user(person.mail)
    assert world.groups_of(user["id"]) == {world.units.group_path(person.unit_code, world.day)}  # unchanged


def test_watch_polls_with_incremental_runs(world: World) -> None:
    settings = world.settings.model_copy(deep=True)
    settings.sync.watch_interval_s = 0.1
    world.sync(full=True)
    reports: list[RunReport] = []
    runs = asyncio.run(watch(settings=settings, units=world.units, runs=2, on_report=reports.append))
    assert runs == 2 and [r.mode for r in reports] == ["incremental", "incremental"]
    assert all(r.status == "applied" for r in reports)
