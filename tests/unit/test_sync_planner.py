"""The pure parts of the sync engine: directory parsing, desired state, the planner, the safety valve."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt

import pytest

from bridge.adapters.directory.ldap import DirectoryEntry, DirectoryRead, RejectedEntry, parse_entry
from bridge.adapters.keycloak.actual import ActualState, ActualUser
from bridge.domain.sync.desired import DesiredState, desired_state
from bridge.domain.sync.planner import OpKind, Reason, plan
from bridge.domain.sync.safety import check
from bridge.domain.units import Unit, UnitTree
from bridge.services.sync.run import choose_mode
from bridge.services.sync.valve import plan_hash
from bridge.settings import SyncSettings

DAY = dt.date(2025, 11, 3)


@pytest.fixture(scope="module")
def tree(units: UnitTree) -> UnitTree:
    return units


def branch_and_province(units: UnitTree) -> tuple[Unit, Unit]:
    branch = next(u for u in units.on(DAY).values() if u.type.value == "branch")
    province = units.province_of(branch.code, DAY)
    assert province is not None
    return branch, province


def entry(mail: str, unit: str, n: int = 1) -> DirectoryEntry:
    return DirectoryEntry(
        dn=f"uid=bh{n:07d},ou=people",
        mail=mail,
        uid=f"bh{n:07d}",
        display_name="Nguyễn Văn An",
        unit_code=unit,
        title="Chuyên viên",
        employee_number=f"BH{n:07d}",
    )


def desired_of(
    units: UnitTree, *entries: DirectoryEntry, complete: bool = True, incremental: bool = False
) -> DesiredState:
    return desired_state(
        DirectoryRead(entries=list(entries), complete=complete, incremental=incremental), units, day=DAY
    )


def actual_of(units: UnitTree, *users: tuple[str, str, bool], leavers: frozenset[str] = frozenset()) -> ActualState:
    group_ids = {units.group_path(code, DAY): f"g-{code}" for code in units.on(DAY)}
    return ActualState(
        users={
            mail: ActualUser(
                id=f"id-{mail}",
                mail=mail,
                enabled=enabled,
                unit_groups=frozenset({units.group_path(code, DAY)}),
            )
            for mail, code, enabled in users
        },
        group_ids=group_ids,
        leavers=leavers,
    )


def test_parse_entry_normalises_nfc_and_lower_cases_mail() -> None:
    decomposed = "Nguye\u0302\u0303n Va\u0306n An".encode()
    parsed = parse_entry(
        "uid=x",
        {"mail": [b"An.NV@HaNoi.vss.gov.vn"], "displayName": [decomposed], "departmentNumber": [b"01000"]},
    )
    assert isinstance(parsed, DirectoryEntry)
    assert parsed.mail == "an.nv@hanoi.vss.gov.vn"
    assert parsed.display_name == "Nguyễn Văn An"


def test_parse_entry_rejects_missing_mail_and_undecodable_values_with_dn() -> None:
    no_mail = parse_entry("uid=a", {"departmentNumber": [b"01000"]})
    bad = parse_entry("uid=b", {"mail": [b"b@vss.gov.vn"], "title": [b"\xff\xfe"], "departmentNumber": [b"1"]})
    assert isinstance(no_mail, RejectedEntry) and no_mail.dn == "uid=a" and "no mail" in no_mail.reason
    assert isinstance(bad, RejectedEntry) and bad.dn == "uid=b" and "undecodable" in bad.reason
    assert bad.mail == "b@vss.gov.vn"


def test_desired_state_rejects_duplicates_and_unknown_units(tree: UnitTree) -> None:
    branch, _ = branch_and_province(tree)
    state = desired_of(
        tree,
        entry("a@vss.gov.vn", branch.code, 1),
        entry("a@vss.gov.vn", branch.code, 2),
        entry("b@vss.gov.vn", "99999", 3),
        entry("c@vss.gov.vn", branch.code, 4),
    )
    assert set(state.people) == {"c@vss.gov.vn"}
    reasons = {r.dn: r.reason for r in state.rejected}
    assert "duplicate mail" in reasons["uid=bh0000001,ou=people"] and "duplicate" in reasons["uid=bh0000002,ou=people"]
    assert "unknown" in reasons["uid=bh0000003,ou=people"]
    assert state.uncertain == {"a@vss.gov.vn", "b@vss.gov.vn"}


def test_joiner_is_ensured_into_its_unit_group(tree: UnitTree) -> None:
    branch, _ = branch_and_province(tree)
    ops = plan(desired_of(tree, entry("new@vss.gov.vn", branch.code)), actual_of(tree), (), DAY)
    assert [(o.kind, o.reason, o.group_path, o.enabled) for o in ops] == [
        (OpKind.ENSURE, Reason.JOINER, tree.group_path(branch.code, DAY), True)
    ]


def test_mover_joins_the_new_unit_and_leaves_the_old(tree: UnitTree) -> None:
    branch, province = branch_and_province(tree)
    ops = plan(
        desired_of(tree, entry("m@vss.gov.vn", province.code)),
        actual_of(tree, ("m@vss.gov.vn", branch.code, True)),
        (),
        DAY,
    )
    assert len(ops) == 1 and ops[0].kind is OpKind.MOVE and ops[0].reason is Reason.MOVER
    assert ops[0].group_path == tree.group_path(province.code, DAY)
    assert ops[0].leave_groups == (tree.group_path(branch.code, DAY),)


def test_leaver_is_disabled_never_deleted(tree: UnitTree) -> None:
    branch, _ = branch_and_province(tree)
    ops = plan(
        desired_of(tree, entry("stay@vss.gov.vn", branch.code)),
        actual_of(tree, ("stay@vss.gov.vn", branch.code, True), ("gone@vss.gov.vn", branch.code, True)),
        (),
        DAY,
    )
    assert [(o.kind, o.reason, o.mail, o.unit_code) for o in ops] == [
        (OpKind.DISABLE, Reason.LEAVER, "gone@vss.gov.vn", branch.code)
    ]


@pytest.mark.parametrize(("complete", "incremental", "people"), [(False, False, 1), (True, True, 1), (True, False, 0)])
def test_partial_incremental_or_empty_read_disables_nobody(
    tree: UnitTree, complete: bool, incremental: bool, people: int
) -> None:
    branch, _ = branch_and_province(tree)
    entries = [entry("stay@vss.gov.vn", branch.code)][:people]
    desired = desired_of(tree, *entries, complete=complete, incremental=incremental)
    actual = actual_of(tree, ("stay@vss.gov.vn", branch.code, True), ("gone@vss.gov.vn", branch.code, True))
    assert [o for o in plan(desired, actual, (), DAY) if o.kind is OpKind.DISABLE] == []


def test_person_with_a_rejected_entry_is_not_disabled(tree: UnitTree) -> None:
    branch, _ = branch_and_province(tree)
    desired = desired_of(
        tree,
        entry("ok@vss.gov.vn", branch.code, 1),
        entry("dup@vss.gov.vn", branch.code, 2),
        entry("dup@vss.gov.vn", branch.code, 3),
    )
    actual = actual_of(tree, ("ok@vss.gov.vn", branch.code, True), ("dup@vss.gov.vn", branch.code, True))
    assert plan(desired, actual, (), DAY) == []


def test_returner_is_re_enabled_only_without_a_hold(tree: UnitTree) -> None:
    branch, _ = branch_and_province(tree)
    desired = desired_of(tree, entry("back@vss.gov.vn", branch.code))
    actual = actual_of(tree, ("back@vss.gov.vn", branch.code, False), leavers=frozenset({"back@vss.gov.vn"}))
    assert [(o.kind, o.reason) for o in plan(desired, actual, (), DAY)] == [(OpKind.ENABLE, Reason.RETURNER)]
    assert plan(desired, actual, {"back@vss.gov.vn"}, DAY) == []


def test_hold_disables_an_enabled_person_and_imports_a_joiner_disabled(tree: UnitTree) -> None:
    branch, _ = branch_and_province(tree)
    desired = desired_of(tree, entry("held@vss.gov.vn", branch.code, 1), entry("new@vss.gov.vn", branch.code, 2))
    actual = actual_of(tree, ("held@vss.gov.vn", branch.code, True))
    ops = plan(desired, actual, {"held@vss.gov.vn", "new@vss.gov.vn"}, DAY)
    assert [(o.kind, o.reason, o.enabled) for o in ops] == [
        (OpKind.DISABLE, Reason.HOLD, True),
        (OpKind.ENSURE, Reason.JOINER, False),
    ]


def test_reorganisation_moves_people_of_a_closed_unit_to_its_successor(tree: UnitTree) -> None:
    branch, province = branch_and_province(tree)
    closed = [
        dataclasses.replace(u, valid_to=DAY - dt.timedelta(days=1), successor=province.code)
        if u.code == branch.code
        else u
        for u in tree.units
    ]
    reorganised = UnitTree(units=tuple(closed), realm=tree.realm, group_root=tree.group_root)
    desired = desired_state(
        DirectoryRead(entries=[entry(f"p{i}@vss.gov.vn", branch.code, i) for i in range(5)]),
        reorganised,
        day=DAY,
    )
    actual = actual_of(tree, *((f"p{i}@vss.gov.vn", branch.code, True) for i in range(5)))
    ops = plan(desired, actual, (), DAY)
    assert len(ops) == 5
    assert {(o.kind, o.reason, o.group_path, o.leave_groups) for o in ops} == {
        (
            OpKind.MOVE,
            Reason.REORGANISATION,
            tree.group_path(province.code, DAY),
            (tree.group_path(branch.code, DAY),),
        )
    }


def test_converged_state_plans_nothing_and_plan_is_pure(tree: UnitTree) -> None:
    branch, _ = branch_and_province(tree)
    desired = desired_of(tree, entry("a@vss.gov.vn", branch.code))
    actual = actual_of(tree, ("a@vss.gov.vn", branch.code, True), ("b@vss.gov.vn", branch.code, True))
    snapshot = (copy.deepcopy(desired), copy.deepcopy(actual))
    first, second = plan(desired, actual, (), DAY), plan(desired, actual, (), DAY)
    assert first == second and (desired, actual) == snapshot
    assert (
        plan(
            desired_of(tree, entry("a@vss.gov.vn", branch.code)),
            actual_of(tree, ("a@vss.gov.vn", branch.code, True)),
            (),
            DAY,
        )
        == []
    )


def test_plan_rejects_a_desired_state_of_another_day(tree: UnitTree) -> None:
    with pytest.raises(ValueError, match="not"):
        plan(desired_of(tree), actual_of(tree), (), DAY + dt.timedelta(days=1))


def test_valve_halts_on_count_share_and_unit_share(tree: UnitTree) -> None:
    branch, province = branch_and_province(tree)
    users = [(f"b{i}@vss.gov.vn", branch.code, True) for i in range(20)] + [
        (f"p{i}@vss.gov.vn", province.code, True) for i in range(180)
    ]
    actual = actual_of(tree, *users)
    keep = [entry(m, c, i) for i, (m, c, _) in enumerate(users) if not m.startswith("b")]
    ops = plan(desired_of(tree, *keep), actual, (), DAY)
    verdict = check(ops, actual, SyncSettings(max_disable_count=200, max_disable_share=0.5, max_unit_disable_share=0.5))
    assert verdict.halted and verdict.disables == 20
    assert verdict.reasons == (f"unit {branch.code}: 20/20 leavers > limit 50%",)
    assert check(
        ops, actual, SyncSettings(max_disable_count=10, max_disable_share=1, max_unit_disable_share=1)
    ).reasons == ("20 leavers to disable > limit 10",)
    assert not check(
        ops, actual, SyncSettings(max_disable_count=50, max_disable_share=0.2, max_unit_disable_share=1)
    ).halted


def test_plan_hash_ignores_user_ids_and_changes_with_the_plan(tree: UnitTree) -> None:
    branch, province = branch_and_province(tree)
    desired = desired_of(tree, entry("m@vss.gov.vn", province.code))
    one = plan(desired, actual_of(tree, ("m@vss.gov.vn", branch.code, True)), (), DAY)
    other = [dataclasses.replace(op, user_id="another-id") for op in one]
    assert plan_hash(one) == plan_hash(other)
    assert plan_hash(one) != plan_hash([])


def test_mode_is_full_first_each_day_and_every_nth_run() -> None:
    seen = {"high_water": "20261123000000Z", "last_full_day": DAY.isoformat(), "runs_since_full": "0"}
    assert choose_mode({}, day=DAY, full=False, every=24) == "full"
    assert choose_mode(seen, day=DAY, full=False, every=24) == "incremental"
    assert choose_mode(seen, day=DAY, full=True, every=24) == "full"
    assert choose_mode(seen, day=DAY + dt.timedelta(days=1), full=False, every=24) == "full"
    assert choose_mode({**seen, "runs_since_full": "23"}, day=DAY, full=False, every=24) == "full"


def test_bulk_import_only_for_many_joiners_that_are_much_of_the_directory() -> None:
    from bridge.services.sync.bulk import wants_bulk

    assert wants_bulk(20_000, directory_size=20_000, minimum=500, share=0.2)
    assert not wants_bulk(499, directory_size=600, minimum=500, share=0.2)
    assert not wants_bulk(3_000, directory_size=100_000, minimum=500, share=0.2)
    assert wants_bulk(25_000, directory_size=100_000, minimum=500, share=0.2)
    assert not wants_bulk(20_000, directory_size=20_000, minimum=0, share=0.2)
