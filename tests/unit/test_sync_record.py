"""The pure parts of issue 16: the applied record, incremental leavers from the directory's mails, the overlap."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from bridge.adapters.directory.ldap import DirectoryEntry, DirectoryRead
from bridge.adapters.keycloak.actual import ActualState, ActualUser
from bridge.domain.sync.desired import desired_state
from bridge.domain.sync.planner import Operation, OpKind, Reason, plan
from bridge.domain.sync.record import Recorded, actual_of_record, after, entry_hash, repaired
from bridge.domain.units import UnitTree
from bridge.services.sync.run import overlap, presence_due

DAY = dt.date(2025, 11, 3)


def entry(mail: str, unit: str, n: int = 1, title: str = "Chuyên viên") -> DirectoryEntry:
    return DirectoryEntry(
        dn=f"uid=bh{n:07d},ou=people",
        mail=mail,
        uid=f"bh{n:07d}",
        display_name="Nguyễn Văn An",
        unit_code=unit,
        title=title,
        employee_number=f"BH{n:07d}",
    )


@pytest.fixture(scope="module")
def branch(units: UnitTree) -> str:
    return next(u.code for u in units.on(DAY).values() if u.type.value == "branch")


def record(units: UnitTree, code: str, *rows: tuple[str, str, bool]) -> ActualState:
    group_ids = {units.group_path(c, DAY): f"g-{c}" for c in units.on(DAY)}
    recorded = [Recorded(mail, uid, units.group_path(code, DAY), enabled) for mail, uid, enabled in rows]
    return actual_of_record(recorded, group_ids=group_ids, leavers=frozenset())


def test_entry_hash_changes_with_what_the_bridge_reads_not_with_modify_timestamp(branch: str) -> None:
    one = entry("an@vss.gov.vn", branch)
    assert entry_hash(one) == entry_hash(dataclasses.replace(one, modified="20261126000000Z"))
    assert entry_hash(one) != entry_hash(dataclasses.replace(one, title="Phó Giám đốc"))
    assert len(entry_hash(one)) == 32


def test_incremental_plans_leavers_from_the_directorys_mails_and_changes_from_the_record(
    units: UnitTree, branch: str
) -> None:
    province = units.province_of(branch, DAY)
    assert province is not None
    actual = record(units, branch, ("stay@vss.gov.vn", "u1", True), ("gone@vss.gov.vn", "u2", True),
                    ("moved@vss.gov.vn", "u3", True))  # fmt: skip
    read = DirectoryRead(entries=[entry("moved@vss.gov.vn", province.code, 3)], incremental=True)
    desired = desired_state(read, units, day=DAY)
    desired.present = frozenset({"stay@vss.gov.vn", "moved@vss.gov.vn"})
    ops = {(o.kind, o.reason, o.mail, o.user_id) for o in plan(desired, actual, (), DAY)}
    assert ops == {
        (OpKind.MOVE, Reason.MOVER, "moved@vss.gov.vn", "u3"),
        (OpKind.DISABLE, Reason.LEAVER, "gone@vss.gov.vn", "u2"),
    }


@pytest.mark.parametrize("present", [None, frozenset()])
def test_incremental_without_the_directorys_mails_or_with_none_disables_nobody(
    units: UnitTree, branch: str, present: frozenset[str] | None
) -> None:
    actual = record(units, branch, ("gone@vss.gov.vn", "u2", True))
    desired = desired_state(DirectoryRead(incremental=True), units, day=DAY)
    desired.present = present
    assert plan(desired, actual, (), DAY) == []


def test_incremental_with_a_partial_read_of_the_mails_disables_nobody(units: UnitTree, branch: str) -> None:
    actual = record(units, branch, ("gone@vss.gov.vn", "u2", True), ("stay@vss.gov.vn", "u1", True))
    desired = desired_state(DirectoryRead(incremental=True, complete=False), units, day=DAY)
    desired.present = frozenset({"stay@vss.gov.vn"})
    assert plan(desired, actual, (), DAY) == []


def test_a_console_disable_in_the_record_is_not_undone_by_an_incremental_change(units: UnitTree, branch: str) -> None:
    actual = record(units, branch, ("locked@vss.gov.vn", "u1", False))
    read = DirectoryRead(entries=[entry("locked@vss.gov.vn", branch, title="Phó trưởng phòng")], incremental=True)
    desired = desired_state(read, units, day=DAY)
    desired.present = frozenset({"locked@vss.gov.vn"})
    assert plan(desired, actual, (), DAY) == []


def test_after_each_operation_kind(units: UnitTree, branch: str) -> None:
    path = units.group_path(branch, DAY)
    joined = after(None, Operation(OpKind.ENSURE, Reason.JOINER, "a@vss.gov.vn", branch, group_path=path), "u1", "h1")
    assert joined == Recorded("a@vss.gov.vn", "u1", path, True, (), "h1")
    held = Operation(OpKind.ENSURE, Reason.JOINER, "a@vss.gov.vn", branch, group_path=path, enabled=False)
    assert after(None, held, "u1") == Recorded("a@vss.gov.vn", "u1", path, False)
    moved = after(joined, Operation(OpKind.MOVE, Reason.MOVER, "a@vss.gov.vn", branch, "u1", "/units/x"), "u1")
    assert moved is not None and (moved.unit_group, moved.enabled, moved.entry_hash) == ("/units/x", True, "h1")
    off = after(moved, Operation(OpKind.DISABLE, Reason.LEAVER, "a@vss.gov.vn", branch, "u1"), "u1")
    assert off is not None and off.enabled is False and off.unit_group == "/units/x"
    back = after(off, Operation(OpKind.ENABLE, Reason.RETURNER, "a@vss.gov.vn", branch, "u1"), "u1")
    assert back is not None and back.enabled is True
    # a failed lookup gives no id: nothing is recorded for a person the record does not know
    assert after(None, Operation(OpKind.ENSURE, Reason.JOINER, "b@vss.gov.vn", branch, group_path=path), None) is None


def test_repair_trusts_keycloak_then_the_runs_writes_and_keeps_role_groups(units: UnitTree, branch: str) -> None:
    path = units.group_path(branch, DAY)
    actual = ActualState(
        users={
            "a@vss.gov.vn": ActualUser("u1", "a@vss.gov.vn", False, frozenset({path})),
            "b@vss.gov.vn": ActualUser("u2", "b@vss.gov.vn", True, frozenset({path})),
        }
    )
    joiner = Operation(OpKind.ENSURE, Reason.JOINER, "c@vss.gov.vn", branch, group_path=path)
    leaver = Operation(OpKind.DISABLE, Reason.LEAVER, "b@vss.gov.vn", branch, "u2")
    result = repaired(
        actual,
        [(joiner, "u3"), (leaver, "u2")],
        hashes={"a@vss.gov.vn": "ha", "c@vss.gov.vn": "hc"},
        role_groups={"a@vss.gov.vn": ("/apps/TST/operator",)},
    )
    assert result == {
        "a@vss.gov.vn": Recorded("a@vss.gov.vn", "u1", path, False, ("/apps/TST/operator",), "ha"),
        "b@vss.gov.vn": Recorded("b@vss.gov.vn", "u2", path, False, (), ""),
        "c@vss.gov.vn": Recorded("c@vss.gov.vn", "u3", path, True, (), "hc"),
    }


def test_actual_of_record_leaves_out_people_in_no_unit_group() -> None:
    state = actual_of_record(
        [Recorded("a@vss.gov.vn", "u1", "/units/01000", True), Recorded("b@vss.gov.vn", "u2", "", True)],
        group_ids={"/units/01000": "g"},
        leavers=frozenset({"x@vss.gov.vn"}),
    )
    assert set(state.users) == {"a@vss.gov.vn"} and state.reads == 0 and state.group_ids == {"/units/01000": "g"}


@pytest.mark.parametrize(
    ("mark", "seconds", "expected"),
    [
        ("20261126101500Z", 120, "20261126101300Z"),
        ("20260101000030Z", 60, "20251231235930Z"),
        ("not-a-time", 120, "not-a-time"),
    ],
)
def test_overlap_reads_a_little_before_the_high_water_mark(mark: str, seconds: int, expected: str) -> None:
    assert overlap(mark, seconds) == expected


@pytest.mark.parametrize(
    ("last", "every_s", "due"),
    [("", 300, True), ("2026-11-26T10:00:00+00:00", 300, False), ("2026-11-26T09:55:00+00:00", 300, True),
     ("2026-11-26T10:00:00+00:00", 0, True), ("garbage", 300, True)],
)  # fmt: skip
def test_the_directorys_mails_are_read_when_due(last: str, every_s: float, due: bool) -> None:
    now = dt.datetime(2026, 11, 26, 10, 1, tzinfo=dt.UTC)
    assert presence_due(last, now=now, every_s=every_s) is due
