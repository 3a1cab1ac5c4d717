"""Issue 16's must-show on the real servers: incremental runs plan from the bridge's applied record.

Between two incremental runs a provincial administrator changes an account through Keycloak's admin API (the
console's path); the console watcher accepts the change and carries it into the record. The next incremental
run reads neither Keycloak's users nor groups, does not undo the change, and still finds a leaver whose entry
was deleted from slapd (the directory's mails, one attribute of every entry). A record corrupted on purpose
never disables the wrong account (the executor checks a leaver's id first), and a full run repairs it from
Keycloak and the directory.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from collections.abc import Iterable, Iterator

import httpx
import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from bridge.adapters.directory.ldap import LdapDirectory
from bridge.adapters.store.lock_models import LockDecision
from bridge.adapters.store.models import Administrator, LedgerEntry
from bridge.adapters.store.session import session_factory, transaction
from bridge.adapters.store.sync_models import AppliedPerson, PersonHold
from bridge.domain.sync.planner import OpKind, Reason
from bridge.domain.sync.record import Recorded
from bridge.domain.units import UnitTree, UnitType
from bridge.services.console_watcher import ConsoleWatcher
from bridge.services.context import build_context
from bridge.testbed.directory_gen import Person, password_for
from bridge.testbed.relying_party import RelyingParty
from bridge.testbed.slapd_server import PEOPLE_BASE
from bridge.testbed.stack import Stack
from tests.integration.sync_world import World, new_person, sync_world

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def world(stack: Stack, units: UnitTree) -> Iterator[World]:
    with sync_world(stack, units, name="sync-record", size=300, seed=16) as created:
        created.settings.sync.presence_every_s = 0  # every incremental run looks for leavers (decision 0903)
        first = created.sync(full=True)
        assert first.status == "applied" and first.applied == 300, (first.error, first.failed[:3])
        yield created


def hanoi(world: World, index: int) -> Person:
    """A seeded Hà Nội person of this module's own directory, by index."""
    return [p for p in world.people if p.unit_code.startswith("01")][index]


def record_of(world: World, mail: str) -> AppliedPerson | None:
    with transaction(session_factory(world.settings.store.url)) as session:
        row = session.get(AppliedPerson, mail)
        if row is not None:
            session.expunge(row)
        return row


def console_token(world: World, person: Person) -> str:
    """The administrator's token from the real admin-console login of the module's realm (public client, PKCE)."""
    base, realm = world.settings.keycloak.url, world.settings.keycloak.realm
    console = RelyingParty(
        issuer=f"{base}/realms/{realm}",
        client_id="security-admin-console",
        client_secret=None,
        redirect_uri=f"{base}/admin/{realm}/console/",
    )
    return str(console.login(person.mail, password_for(person.employee_number)).tokens["access_token"])


def test_console_change_between_incremental_runs_is_kept_and_the_leaver_is_found(world: World) -> None:
    rogue, locked, leaver, other = hanoi(world, 0), hanoi(world, 1), hanoi(world, 2), hanoi(world, 3)
    ids = {p.mail: str(world.user(p.mail)["id"]) for p in (rogue, locked, leaver, other)}
    sessions = session_factory(world.settings.store.url)
    with transaction(sessions) as session:
        session.add(
            Administrator(
                email=rogue.mail,
                role="province_admin",
                unit_code="01000",
                appointed_by="it.admin@vss.gov.vn",
                appointed_at=dt.datetime.now(dt.UTC),
            )
        )
    # the console's own path: a legacy manage-users role, as a provincial administrator may hold in the console
    rm = world.admin.get("clients", clientId="realm-management")[0]["id"]
    role = world.admin.get(f"clients/{rm}/roles/manage-users")
    world.admin.post(f"users/{ids[rogue.mail]}/role-mappings/clients/{rm}", [role])

    quiet = world.sync()
    assert quiet.mode == "incremental" and quiet.status == "applied", quiet.error
    assert (quiet.ops, quiet.reads, quiet.writes) == ([], 0, 0)

    watcher = ConsoleWatcher(
        admin=world.kc,
        sessions=sessions,
        ctx=build_context(world.settings, directory=LdapDirectory(world.settings.directory)),
        ignore_user_ids=frozenset({world.kc.own_user_id()}),
    )
    stop = threading.Event()
    thread = threading.Thread(
        target=lambda: watcher.watch(day=lambda: world.day, interval_s=0.5, stop=stop.is_set), daemon=True
    )
    thread.start()
    try:
        base = f"{world.settings.keycloak.url}/admin/realms/{world.settings.keycloak.realm}"
        headers = {"Authorization": f"Bearer {console_token(world, rogue)}"}
        answer = httpx.put(f"{base}/users/{ids[locked.mail]}", headers=headers, json={"enabled": False})
        assert answer.status_code == 204, answer.text
        deadline = time.monotonic() + 30
        while (row := record_of(world, locked.mail)) is None or row.enabled:
            assert time.monotonic() < deadline, "the watcher did not carry the console change into the record"
            time.sleep(0.3)
    finally:
        stop.set()
        thread.join(timeout=15)
    with transaction(sessions) as session:
        rows = session.scalars(select(LedgerEntry).where(LedgerEntry.actor == rogue.mail)).all()
        assert ("console:lock", locked.mail, "allowed") in {(r.action, r.target, r.outcome) for r in rows}

    # the directory changes: the locked person's entry is modified, the leaver's entry deleted, another modified
    for person in (locked, other):
        world.slapd.modify(
            f"dn: {person.dn_rdn},{PEOPLE_BASE}\nchangetype: modify\nreplace: title\ntitle: Chuyên viên chính\n"
        )
    world.remove(leaver)
    report = world.sync()
    assert report.mode == "incremental" and report.status == "applied", (report.error, report.failed[:3])
    assert [(o.kind, o.reason, o.mail) for o in report.ops] == [(OpKind.DISABLE, Reason.LEAVER, leaver.mail)]
    assert report.reads == 1  # the leaver's account, checked before it is disabled; no listing, no group tree
    assert world.admin.get(f"users/{ids[leaver.mail]}")["enabled"] is False
    assert world.admin.get(f"users/{ids[locked.mail]}")["enabled"] is False  # the console change stays
    assert world.admin.get(f"users/{ids[other.mail]}")["enabled"] is True
    leaver_row, locked_row = record_of(world, leaver.mail), record_of(world, locked.mail)
    assert leaver_row is not None and leaver_row.enabled is False
    assert locked_row is not None and locked_row.enabled is False

    again = world.sync()
    assert again.mode == "incremental" and (again.ops, again.reads, again.writes) == ([], 0, 0)


def test_a_corrupted_record_disables_no_wrong_account_and_a_full_run_repairs_it(world: World) -> None:
    moved, flipped, lost, gone, victim = (hanoi(world, i) for i in (4, 5, 6, 7, 8))
    ids = {p.mail: str(world.user(p.mail)["id"]) for p in (moved, flipped, lost, gone, victim)}
    truth = {p.mail: record_of(world, p.mail) for p in (moved, flipped, lost, victim)}
    sessions = session_factory(world.settings.store.url)
    with transaction(sessions) as session:
        session.execute(
            update(AppliedPerson).where(AppliedPerson.email == moved.mail).values(unit_group="/units/79000")
        )
        session.execute(update(AppliedPerson).where(AppliedPerson.email == flipped.mail).values(enabled=False))
        session.execute(delete(AppliedPerson).where(AppliedPerson.email == lost.mail))
        # the record names another person's account for a leaver: disabling it would lock out the wrong person
        session.execute(update(AppliedPerson).where(AppliedPerson.email == gone.mail).values(user_id=ids[victim.mail]))
    world.remove(gone)

    wrong = world.sync()
    assert wrong.mode == "incremental" and wrong.status == "partial"
    disables = [(o.kind, o.mail, o.user_id) for o in wrong.ops if o.kind is OpKind.DISABLE]
    assert disables == [(OpKind.DISABLE, gone.mail, ids[victim.mail])]
    # entries re-read within the overlap window may plan a harmless move (leaving the wrong group is a 404 taken
    # as done) or an import lookup for the lost row; nothing else
    assert {o.mail for o in wrong.ops} <= {gone.mail, moved.mail, lost.mail}
    assert [r.op.mail for r in wrong.failed] == [gone.mail] and "bản ghi sai" in (wrong.failed[0].error or "")
    assert world.admin.get(f"users/{ids[victim.mail]}")["enabled"] is True  # never a wrong disable
    assert world.admin.get(f"users/{ids[gone.mail]}")["enabled"] is True  # not yet: the full run finds it

    full = world.sync(full=True)
    assert full.mode == "full" and full.status == "applied", (full.error, full.failed[:3])
    # the full run trusts Keycloak and the directory: it only disables the real leaver, by its real id
    assert [(o.kind, o.reason, o.mail, o.user_id) for o in full.ops] == [
        (OpKind.DISABLE, Reason.LEAVER, gone.mail, ids[gone.mail])
    ]
    assert world.admin.get(f"users/{ids[gone.mail]}")["enabled"] is False
    assert world.admin.get(f"users/{ids[victim.mail]}")["enabled"] is True
    for mail, before in truth.items():
        after = record_of(world, mail)
        assert after is not None and before is not None
        assert (after.user_id, after.unit_group, after.enabled) == (before.user_id, before.unit_group, before.enabled)
        assert after.entry_hash == before.entry_hash
    repaired_gone = record_of(world, gone.mail)
    assert repaired_gone is not None and (repaired_gone.user_id, repaired_gone.enabled) == (ids[gone.mail], False)
    assert full.record is not None and full.record["written"] >= 2  # at least the flipped and the gone rows

    quiet = world.sync()
    assert quiet.mode == "incremental" and (quiet.ops, quiet.reads, quiet.writes) == ([], 0, 0)


def test_joiner_and_mover_in_incremental_runs_are_recorded(world: World) -> None:
    template = hanoi(world, 9)
    mover = [p for p in world.people if world.units.require(p.unit_code, world.day).type is UnitType.BRANCH][-1]
    province = world.units.province_of(mover.unit_code, world.day)
    assert province is not None
    joiner = new_person(template, index=1601)
    world.add(joiner)
    world.set_unit(mover, province.code)
    report = world.sync()
    assert report.mode == "incremental" and report.status == "applied", (report.error, report.failed[:3])
    kinds = {o.mail: (o.kind, o.reason) for o in report.ops}
    assert kinds == {joiner.mail: (OpKind.ENSURE, Reason.JOINER), mover.mail: (OpKind.MOVE, Reason.MOVER)}
    user = world.user(joiner.mail)
    row = record_of(world, joiner.mail)
    assert row is not None and row.user_id == user["id"] and row.enabled is True
    assert row.unit_group == world.units.group_path(joiner.unit_code, world.day) and len(row.entry_hash) == 32
    moved = record_of(world, mover.mail)
    assert moved is not None and moved.unit_group == world.units.group_path(province.code, world.day)
    assert world.groups_of(world.user(mover.mail)["id"]) == {moved.unit_group}


def test_without_the_leaver_check_an_incremental_run_reads_only_the_changed_peoples_rows(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Decision 0904: when no leaver check is due, the run's cost follows the changes, not the record's size."""
    from bridge.services.sync import record as applied_record

    mover = [p for p in world.people if world.units.require(p.unit_code, world.day).type is UnitType.BRANCH][-2]
    province = world.units.province_of(mover.unit_code, world.day)
    assert province is not None
    monkeypatch.setattr(world.settings.sync, "presence_every_s", 86400.0)  # the check is not due
    # No overlap, and a quiet run a second after the earlier tests' changes: its mark (the second its read
    # started) leaves them behind, so the measured run reads only this test's change.
    monkeypatch.setattr(world.settings.sync, "incremental_overlap_s", 0)
    time.sleep(1.1)
    quiet = world.sync()
    assert quiet.mode == "incremental" and quiet.status == "applied" and not quiet.ops, (quiet.error, quiet.ops)
    world.set_unit(mover, province.code)
    asked: list[set[str] | None] = []
    load = applied_record.load

    def spied(session: Session, mails: Iterable[str] | None = None) -> dict[str, Recorded]:
        wanted = None if mails is None else list(mails)  # a generator is read once: keep it for the real load
        asked.append(None if wanted is None else set(wanted))
        return load(session, wanted)

    monkeypatch.setattr(applied_record, "load", spied)
    report = world.sync()
    assert report.mode == "incremental" and report.status == "applied", (report.error, report.failed[:3])
    assert not report.presence_checked
    assert [(o.mail, o.kind) for o in report.ops] == [(mover.mail, OpKind.MOVE)]
    assert asked and None not in asked, asked  # never the whole record
    assert set().union(*(a or set() for a in asked)) == {mover.mail}
    moved = record_of(world, mover.mail)
    assert moved is not None and moved.unit_group == world.units.group_path(province.code, world.day)
    assert world.groups_of(world.user(mover.mail)["id"]) == {moved.unit_group}


def test_a_lock_and_its_end_reach_the_record_so_a_re_read_entry_plans_nothing(world: World) -> None:
    """The lock scheduler's own writes (disable; re-enable at the end) are carried into the record: the watcher
    skips the bridge's service account, and a record left at ``enabled: true`` made an incremental run that
    re-read a locked person's entry disable the account again — an operation on someone who did not change
    (found by tests/ops/test_deployment_smoke.py, decision 0900)."""
    from bridge.adapters.keycloak.admin import service_account_admin
    from bridge.domain.lock_reasons import LockReason
    from bridge.services.context import load_actor
    from bridge.services.holds import StoreHolds
    from bridge.services.locks.decisions import request_lock
    from bridge.services.locks.keycloak_actions import KeycloakLocks
    from bridge.services.locks.scheduler import LockScheduler

    person, boss = hanoi(world, 11), hanoi(world, 12)
    sessions = session_factory(world.settings.store.url)
    directory = LdapDirectory(world.settings.directory)
    end = world.day + dt.timedelta(days=10)
    with transaction(sessions) as session:
        appointed = dt.datetime.now(dt.UTC)
        session.add(Administrator(email=boss.mail, role="province_admin", unit_code="01000",
                                  appointed_by="it.admin@vss.gov.vn", appointed_at=appointed))  # fmt: skip
    with transaction(sessions) as session:
        request_lock(
            session, ctx=build_context(world.settings, directory=directory, on_date=world.day),
            actor=load_actor(session, email=boss.mail), email=person.mail, reason=LockReason.MATERNITY,
            decision_number="16/QĐ-BHXH", decision_date=world.day, effective_date=world.day, end_date=end,
        )  # fmt: skip

    def tick(clock: dt.datetime) -> list[str]:
        async def once() -> list[str]:
            admin = service_account_admin(world.settings.keycloak)
            try:
                scheduler = LockScheduler(factory=sessions, locks=KeycloakLocks(admin), directory=directory,
                                          clock=lambda: clock)  # fmt: skip
                return [f"{o.kind}:{o.status}" for o in await scheduler.tick()]
            finally:
                await admin.aclose()

        return asyncio.run(once())

    assert tick(dt.datetime.now(dt.UTC)) == ["apply:applied"]
    user_id = str(world.user(person.mail)["id"])
    assert world.admin.get(f"users/{user_id}")["enabled"] is False
    row = record_of(world, person.mail)
    assert row is not None and row.enabled is False, "the lock's disable is in the record"
    hash_before = row.entry_hash

    # The locked person's entry is re-read (a title change): the run compares it with the record, which knows the
    # account is disabled, and writes nothing to it.
    world.slapd.modify(f"dn: {person.dn_rdn},{PEOPLE_BASE}\nchangetype: modify\nreplace: title\ntitle: Kế toán viên\n")
    report = world.sync()
    assert report.mode == "incremental" and report.status == "applied", (report.error, report.failed[:3])
    assert [o for o in report.ops if o.mail == person.mail] == []
    row = record_of(world, person.mail)
    assert row is not None and row.entry_hash != hash_before, "the entry was read again and compared"
    assert world.admin.get(f"users/{user_id}")["enabled"] is False

    # The lock ends (the day after its end date): the account is back, and so is the record's ``enabled``.
    after_end = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(3), tzinfo=dt.UTC)
    assert tick(after_end) == ["reinstate:applied"]
    assert world.admin.get(f"users/{user_id}")["enabled"] is True
    row = record_of(world, person.mail)
    assert row is not None and row.enabled is True, "the re-enable is in the record"
    with transaction(sessions) as session:  # the module's later runs are on today, when the hold still covers them
        assert person.mail in StoreHolds(session).held_on(world.day)
        session.execute(update(LockDecision).where(LockDecision.email == person.mail).values(hold_id=None))
        session.execute(delete(PersonHold).where(PersonHold.email == person.mail))
