"""Every account change of a quarter reaches the quarterly report, once; and only official e-mails get accounts.

One private world (its own slapd and realm on the shared Keycloak, its own store) goes through a quarter with
each kind of change made by the real services: the sync (a joiner, a leaver, the leaver returning, a mover), the
console watcher (a change it accepts and one it reverts), grants and revocations, a transfer, a lock and its
reinstatement, and an exception account created and ended. The reports of the units concerned then hold each
change exactly once, in the section its kind belongs to (Công văn 907: every account change of the quarter).
A directory entry whose mail is outside the official domains is rejected, named by its DN, and never placed in
a unit group; an account whose mail leaves the official domains is disabled as a leaver.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from bridge.adapters.directory.ldap import LdapDirectory
from bridge.adapters.store.models import Administrator
from bridge.adapters.store.report_models import ReportSubmission
from bridge.adapters.store.session import make_engine, transaction
from bridge.adapters.store.sync_models import SyncRun
from bridge.domain.catalogue import Application
from bridge.domain.lock_reasons import LockReason
from bridge.domain.policy import AdminRole
from bridge.domain.reports.changes import ChangeKind, section_of
from bridge.domain.reports.model import ReportRow
from bridge.domain.reports.quarter import Quarter
from bridge.domain.sync.planner import OpKind, Reason
from bridge.domain.units import UnitTree
from bridge.services import approvals_in_scope, exception_accounts, grants, persons
from bridge.services.console_watcher import ConsoleWatcher
from bridge.services.context import build_context, load_actor
from bridge.services.reports.build import build_unit_report
from bridge.testbed.directory_gen import Person, password_for
from bridge.testbed.relying_party import RelyingParty
from bridge.testbed.slapd_server import PEOPLE_BASE
from bridge.testbed.stack import Stack
from tests.integration import test_locks
from tests.integration.sync_world import World, new_person, sync_world
from tests.integration.test_locks import HN_ADMIN, IT_ADMIN, at_vn_midnight

pytestmark = pytest.mark.integration
LEADER = "ld.nganh@vss.gov.vn"
HANOI = "01000"


@pytest.fixture(scope="module")
def world(stack: Stack, units: UnitTree) -> Iterator[World]:
    with sync_world(stack, units, name="changes", size=300, seed=11) as created:
        first = created.sync(full=True)
        assert first.status == "applied" and first.applied == 300, (first.error, first.failed[:3])
        yield created


def hanoi_people(world: World) -> list[Person]:
    return [p for p in world.people if world.units.is_under(p.unit_code, HANOI, world.day)]


def unit_members(world: World, path: str) -> set[str]:
    group = world.admin.get(f"group-by-path/{path.lstrip('/')}")
    return {str(m.get("email")) for m in world.admin.get(f"groups/{group['id']}/members", max=5000)}


def test_a_directory_entry_outside_the_official_domains_is_rejected_named_by_dn_and_an_account_leaving_them_is_a_leaver(
    world: World,
) -> None:
    template = hanoi_people(world)[-1]
    outsider = dataclasses.replace(new_person(template, index=501), mail="nguoi.ngoai.501@gmail.com")
    world.add(outsider)
    leaving = hanoi_people(world)[-2]
    before = world.user(leaving.mail)
    world.slapd.modify(
        f"dn: {leaving.dn_rdn},{PEOPLE_BASE}\nchangetype: modify\nreplace: mail\nmail: {leaving.uid}@yahoo.com\n"
    )
    report = world.sync(full=True)
    assert report.status == "applied", report.error
    named = {r.dn: r.reason for r in report.rejected}
    outsider_dn = f"{outsider.dn_rdn},{PEOPLE_BASE}"
    assert outsider_dn in named and "gmail.com" in named[outsider_dn] and "tên miền công vụ" in named[outsider_dn]
    assert f"{leaving.dn_rdn},{PEOPLE_BASE}" in named
    assert not [op for op in report.ops if op.mail == outsider.mail], "never a joiner, never placed in a unit group"
    assert outsider.mail not in unit_members(world, world.units.group_path(outsider.unit_code, world.day))
    # Keycloak re-reads the entry (by uid) and shows the account under its new mail: a leaver either way
    moved = {leaving.mail, f"{leaving.uid}@yahoo.com"}
    assert [(o.kind, o.reason) for o in report.ops if o.mail in moved] == [(OpKind.DISABLE, Reason.LEAVER)]
    assert world.admin.get(f"users/{before['id']}")["enabled"] is False
    with sessionmaker(make_engine(world.settings.store.url))() as session:
        stored = session.get(SyncRun, report.run_id)
        assert stored is not None
        assert any(r["dn"] == outsider_dn for r in stored.report["rejected"]), "the run report names the DN"


def _console_token(world: World, person: Person) -> str:
    console = RelyingParty(
        issuer=f"{world.settings.keycloak.url}/realms/{world.settings.keycloak.realm}",
        client_id="security-admin-console", client_secret=None,
        redirect_uri=f"{world.settings.keycloak.url}/admin/{world.settings.keycloak.realm}/console/",
    )  # fmt: skip
    return str(console.login(person.mail, password_for(person.employee_number)).tokens["access_token"])


def test_each_kind_of_account_change_of_the_quarter_appears_exactly_once_in_the_report(
    world: World, apps: tuple[Application, ...]
) -> None:
    today = world.day
    quarter = Quarter.of(today)
    end = today + dt.timedelta(days=1) if quarter.contains(today + dt.timedelta(days=1)) else today
    on = end - dt.timedelta(days=1)  # the day decisions are taken, so that both ends fall in this quarter
    factory = sessionmaker(make_engine(world.settings.store.url), expire_on_commit=False)
    directory = LdapDirectory(world.settings.directory)
    locks = test_locks.World(factory, world.units, directory, tuple(a.client for a in apps))  # type: ignore[arg-type]
    people = hanoi_people(world)
    rogue, accepted, granted, transferred, locked, leaver, mover = people[:7]
    foreign = next(p for p in world.people if not world.units.is_under(p.unit_code, HANOI, today))
    with transaction(factory) as session:
        ctx = locks.ctx(today)
        persons.appoint_administrator(session, ctx=ctx, actor=None, email=IT_ADMIN, role=AdminRole.IT_CENTER_ADMIN,
                                      unit_code="00012")  # fmt: skip
        it = load_actor(session, email=IT_ADMIN)
        persons.appoint_administrator(session, ctx=ctx, actor=it, email=HN_ADMIN, role=AdminRole.PROVINCE_ADMIN,
                                      unit_code=HANOI)  # fmt: skip
        persons.appoint_administrator(session, ctx=ctx, actor=it, email=LEADER, role=AdminRole.LEADERSHIP,
                                      unit_code="00000")  # fmt: skip
        session.add(Administrator(email=rogue.mail, role="province_admin", unit_code=HANOI, appointed_by=IT_ADMIN,
                                  appointed_at=dt.datetime.now(dt.UTC)))  # fmt: skip

    # the sync: a joiner, a leaver who then returns, a mover
    joiner = new_person(people[0], index=601)
    world.add(joiner)
    world.remove(leaver)
    branch = next(c for c in sorted(world.units.on(today)) if world.units.is_under(c, HANOI, today)
                  and c not in (mover.unit_code, HANOI))  # fmt: skip
    world.set_unit(mover, branch)
    assert world.sync(full=True).status == "applied"
    world.add(leaver)
    assert world.sync(full=True).status == "applied"

    # the console: a province administrator with the legacy manage-users role disables one of theirs (accepted)
    # and someone of another province (reverted by the watcher)
    rm = world.admin.get("clients", clientId="realm-management")[0]["id"]
    rogue_id = world.user(rogue.mail)["id"]
    world.admin.post(f"users/{rogue_id}/role-mappings/clients/{rm}",
                     [world.admin.get(f"clients/{rm}/roles/manage-users")])  # fmt: skip
    watcher = ConsoleWatcher(admin=world.kc, sessions=factory, ctx=build_context(world.settings, directory=directory),
                             ignore_user_ids=frozenset({world.kc.own_user_id()}))  # fmt: skip
    watcher.poll(day=today)
    token = _console_token(world, rogue)
    base = f"{world.settings.keycloak.url}/admin/realms/{world.settings.keycloak.realm}"
    for person in (accepted, foreign):
        uid = world.user(person.mail)["id"]
        answer = httpx.put(f"{base}/users/{uid}", headers={"Authorization": f"Bearer {token}"}, json={"enabled": False})
        assert answer.status_code == 204
    verdicts = watcher.poll(day=today)
    assert sorted((v.target, v.reverted) for v in verdicts) == sorted([(accepted.mail, False), (foreign.mail, True)])

    # grants, a revocation, a transfer, a lock and its reinstatement, an exception account created and ended
    with transaction(factory) as session:
        hn = load_actor(session, email=HN_ADMIN)
        revoked = grants.request_grant(session, ctx=locks.ctx(today), actor=hn, email=granted.mail,
                                       application="TST", role_group="operator")  # fmt: skip
        grants.request_grant(session, ctx=locks.ctx(today), actor=hn, email=transferred.mail, application="TST",
                             role_group="operator")  # fmt: skip
    locks.tick(world.settings)
    with transaction(factory) as session:
        grants.revoke_grant(session, ctx=locks.ctx(today), actor=load_actor(session, email=HN_ADMIN),
                            grant_id=revoked.id)  # fmt: skip
    locks.lock(transferred.mail, LockReason.TRANSFERRED, on=on, effective=on)
    locks.lock(locked.mail, LockReason.MATERNITY, on=on, effective=on, end=end)
    outsider = f"khach.doi.{today:%Y%m%d}@congty-ngoai.vn"
    with transaction(factory) as session:
        request = exception_accounts.request_exception_account(
            session, ctx=locks.ctx(on), actor=load_actor(session, email=HN_ADMIN), email=outsider,
            full_name="Phạm Văn Khách", unit_code=HANOI, application="TST", role_group="supervisor", end_date=end,
            reason="Kiểm thử báo cáo",
        )  # fmt: skip
        approval_id = request.id
    with transaction(factory) as session:
        approvals_in_scope.decide_in_scope(session, ctx=locks.ctx(on), actor=load_actor(session, email=LEADER),
                                           approval_id=approval_id, approve=True)  # fmt: skip
    done = locks.tick(world.settings, at_vn_midnight(on) + dt.timedelta(hours=12))
    assert ("account", "created") in [(o.kind, o.status) for o in done], done
    done = locks.tick(world.settings, at_vn_midnight(end) + dt.timedelta(hours=1))
    # the end date: the exception account's end and the reinstatement (and the leave jobs the transfer wrote)
    assert {("apply", "applied"), ("reinstate", "applied")} <= {(o.kind, o.status) for o in done}, done

    expected = {
        (ChangeKind.JOINER, joiner.mail), (ChangeKind.LEAVER, leaver.mail), (ChangeKind.RETURNER, leaver.mail),
        (ChangeKind.UNIT_MOVE, mover.mail), (ChangeKind.CONSOLE_ACCEPTED, accepted.mail),
        (ChangeKind.CONSOLE_REVERTED, foreign.mail), (ChangeKind.ROLE_GRANTED, granted.mail),
        (ChangeKind.ROLE_REVOKED, granted.mail), (ChangeKind.ROLE_ENDED_BY_TRANSFER, transferred.mail),
        (ChangeKind.LOCKED, locked.mail), (ChangeKind.REINSTATED, locked.mail),
        (ChangeKind.EXCEPTION_CREATED, outsider), (ChangeKind.EXCEPTION_ENDED, outsider),
    }  # fmt: skip
    assert {kind for kind, _ in expected} == set(ChangeKind), "the quarter has every kind of change"
    reporters = {HANOI, world.units.province_of(foreign.unit_code, today).code}  # type: ignore[union-attr]
    seen: Counter[tuple[str, str]] = Counter()
    sections: dict[tuple[str, str], int] = {}
    lines: list[ReportRow] = []
    with transaction(factory) as session:  # the units reported last quarter: this is no first report
        for unit in sorted(reporters):
            session.add(
                ReportSubmission(
                    unit_code=unit,
                    quarter=str(quarter.previous()),
                    submitted_by=IT_ADMIN,
                    submitted_at=dt.datetime.now(dt.UTC),
                    content_sha256="0" * 64,
                    late=False,
                )
            )
    with factory() as session:
        ctx = locks.ctx(today)
        for unit in sorted(reporters):
            report = build_unit_report(session, ctx=ctx, actor=load_actor(session, email=IT_ADMIN), unit_code=unit,
                                       quarter=str(quarter), generated_on=today)  # fmt: skip
            for row in [*report.removed, *report.added]:
                lines.append(row)
                seen[(row.change, row.email)] += 1
                sections[(row.change, row.email)] = row.section
    notes = {(row.change, row.email): row.note for row in lines}
    approval = f"Ngoại lệ được Lãnh đạo Ngành phê duyệt số {approval_id}"
    assert notes[(ChangeKind.EXCEPTION_CREATED.value, outsider)].startswith(approval)
    assert notes[(ChangeKind.EXCEPTION_ENDED.value, outsider)].startswith(approval)
    for kind, email in sorted(expected):
        assert seen[(kind.value, email)] == 1, f"{kind.value} of {email}: {seen[(kind.value, email)]} line(s)"
        assert sections[(kind.value, email)] == section_of(kind, "console:lock"), (kind, email)
    assert seen[(ChangeKind.JOINER.value, joiner.mail)] == 1
    with factory() as session:
        assert session.scalars(select(Administrator).where(Administrator.email == rogue.mail)).one()
