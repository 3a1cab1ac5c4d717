"""A quarter of real activity in Hải Phòng (31000), made through the bridge against the real servers.

Everything goes through the bridge: grants and revocations through the governance service (their role groups
reach Keycloak through the worker's membership jobs), lock decisions through the lock service, applied by the
real lock scheduler — a maternity leave from the quarter's first day that comes back inside the quarter, a long
sick leave, a transfer that ends the old field's role group. The scheduler catches up on effective dates in the
past, as a worker started late does. Staff log in through Keycloak's real login form (RelyingParty), one of them
from two addresses at once; an administrator sets up a second factor on the real OTP page. Only the anomalies
the review must find are made out-of-band, as an administrator would in the Keycloak console: a membership
without a grant, a local account nobody knows, a locked person re-enabled by hand. What happened is kept in
:class:`World` so the tests can compare the report and the review with it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from bridge.adapters.directory.lookup import DirectoryPerson, SnapshotDirectory
from bridge.adapters.keycloak.admin import KeycloakAdmin, service_account_admin
from bridge.adapters.store.migrate import upgrade
from bridge.adapters.store.session import make_engine, transaction
from bridge.clock import today_vn
from bridge.domain.catalogue import by_code
from bridge.domain.lock_reasons import LockReason
from bridge.domain.policy import AdminRole
from bridge.domain.reports.quarter import Quarter
from bridge.domain.role_levels import load_catalogue
from bridge.errors import Forbidden
from bridge.services import grants, persons
from bridge.services.context import GovContext, load_actor
from bridge.services.locks import decisions
from bridge.services.locks.keycloak_actions import KeycloakLocks
from bridge.services.locks.scheduler import JobOutcome, LockScheduler
from bridge.services.reports.keycloak_reader import ingest_logins
from bridge.settings import PROJECT_ROOT
from bridge.testbed.directory_gen import Person, password_for
from bridge.testbed.relying_party import Browser
from bridge.testbed.stack import Stack
from tests.integration.test_foundation import group_id, relying_party, user_id
from tests.integration.test_locks import at_vn_midnight

PROVINCE = "31000"


@dataclass
class World:
    """The store, the decision context, the cast, and what happened to whom."""

    factory: sessionmaker[Session]
    ctx: GovContext
    quarter: Quarter
    today: dt.date
    it: Person
    admin: Person
    staff: list[Person]
    ghost: str
    #: A second province administrator who set up an authenticator (TOTP) on Keycloak's real page.
    deputy: Person
    #: Decision date of the lock decisions; the maternity leave's planned return day (inside the quarter).
    decided: dt.date
    back_day: dt.date
    #: (section, email, application, role group, reason, date) of every report line the activity must make.
    expected: set[tuple[int, str, str, str, str, dt.date]] = field(default_factory=set)
    #: Every grant made, by (email, application, role group).
    grant_ids: dict[tuple[str, str, str], int] = field(default_factory=dict)
    login_events_stored: int = 0


def _tick(stack: Stack, world: World, at: dt.datetime | None = None) -> list[JobOutcome]:
    """One pass of the real lock scheduler (lock jobs and grant membership jobs), as a worker process runs it."""

    async def once() -> list[JobOutcome]:
        kc = service_account_admin(stack.settings.keycloak)
        try:
            scheduler = LockScheduler(factory=world.factory, locks=KeycloakLocks(kc), directory=world.ctx.directory,
                                      clock=(lambda: at) if at else (lambda: dt.datetime.now(dt.UTC)))  # fmt: skip
            return await scheduler.tick()
        finally:
            await kc.aclose()

    return asyncio.run(once())


def _statuses(outcomes: list[JobOutcome]) -> list[tuple[str, str]]:
    return sorted((o.kind, o.status) for o in outcomes)


def build_world(stack: Stack, admin: KeycloakAdmin, kc: KeycloakAdmin, tmp: Path) -> World:
    """Make the quarter happen; returns what the report must show."""
    today = today_vn()
    quarter = Quarter.of(today)
    start = quarter.first_day
    decided = start - dt.timedelta(days=10)
    # the maternity leave ends inside the quarter: on a past day (the scheduler catches up), or tomorrow when
    # the quarter began today (the scheduler then runs on that day by its injected clock)
    back_day = max(start + dt.timedelta(days=1), min(today, start + dt.timedelta(days=42)))
    catalogue = load_catalogue(PROJECT_ROOT / "keycloak-config" / "applications.yaml")
    apps = dict(catalogue.applications)
    people = stack.slapd.people
    it = next(p for p in people if p.unit_code == "00012")
    hp = [p for p in people if stack.units.province_of(p.unit_code, today) is not None
          and stack.units.province_of(p.unit_code, today).code == PROVINCE]  # type: ignore[union-attr]  # fmt: skip
    boss, staff, deputy = hp[0], hp[1:6], hp[6]
    directory = SnapshotDirectory(DirectoryPerson(p.mail, p.full_name, p.unit_code, title=p.title) for p in people)
    url = f"sqlite:///{tmp / 'report-world.sqlite3'}"
    upgrade(url=url)
    factory = sessionmaker(make_engine(url), expire_on_commit=False)
    ctx = GovContext(stack.units, catalogue, directory, today)
    world = World(factory, ctx, quarter, today, it, boss, staff, ghost="ghost.nv@haiphong.vss.gov.vn",
                  deputy=deputy, decided=decided, back_day=back_day)  # fmt: skip
    p1, p2, p3, p4, p5 = staff
    with transaction(factory) as s:
        persons.appoint_administrator(s, ctx=ctx, actor=None, email=it.mail, role=AdminRole.IT_CENTER_ADMIN,
                                      unit_code="00012")  # fmt: skip
        for person in (boss, deputy):
            persons.appoint_administrator(s, ctx=ctx, actor=load_actor(s, email=it.mail), email=person.mail,
                                          role=AdminRole.PROVINCE_ADMIN, unit_code=PROVINCE)  # fmt: skip

    def grant(person: Person, app: str, role: str) -> None:
        with transaction(factory) as s:
            made = grants.request_grant(s, ctx=ctx, actor=load_actor(s, email=boss.mail), email=person.mail,
                                        application=app, role_group=role, request_ref=f"PL01-{person.uid}")  # fmt: skip
        world.grant_ids[(person.mail, app, role)] = made.id
        world.expected.add((2, person.mail, app, role, "Cấp mới", today_vn()))

    def lock(person: Person, reason: LockReason, number: str, *, effective: dt.date, end: dt.date | None) -> None:
        with transaction(factory) as s:
            decisions.request_lock(s, ctx=ctx, actor=load_actor(s, email=boss.mail), email=person.mail, reason=reason,
                               decision_number=number, decision_date=decided if end else today,
                               effective_date=effective, end_date=end)  # fmt: skip

    for person, app, role in ((p1, "TST", "operator"), (p1, "QLVB", "staff"), (p2, "TNHS", "operator"),
                              (p3, "TST", "operator"), (p4, "QLVB", "staff")):  # fmt: skip
        grant(person, app, role)
    # p2: maternity from the quarter's first day, back on ``back_day``; p4: long sick leave beyond the quarter
    lock(p2, LockReason.MATERNITY, "QD31-1/QĐ-BHXH", effective=start, end=back_day)
    lock(p4, LockReason.LONG_SICK_LEAVE, "QD31-3/QĐ-BHXH", effective=start, end=quarter.last_day + dt.timedelta(60))
    # the worker: role groups first, then the two locks, whose effective day has passed (catch-up)
    first = _tick(stack, world)
    assert _statuses(first) == [("apply", "applied")] * 2 + [("join", "joined")] * 5, first
    tst, tnhs = by_code(tuple(apps.values()), "TST"), by_code(tuple(apps.values()), "TNHS")
    try:
        relying_party(admin, stack, tnhs).login(p2.mail, password_for(p2.employee_number))
        raise AssertionError("a locked account logged in")
    except Forbidden:
        pass
    world.expected.add((1, p2.mail, "TNHS", "operator", "Nghỉ thai sản", start))
    world.expected.add((1, p4.mail, "QLVB", "staff", "Ốm đau dài ngày", start))

    # the reinstatement, on its return day (already past: the next pass catches up)
    returned = _tick(stack, world, max(dt.datetime.now(dt.UTC), at_vn_midnight(back_day)))
    assert _statuses(returned) == [("reinstate", "applied")], returned
    world.expected.add((2, p2.mail, "TNHS", "operator", "Mở khóa, khôi phục quyền (sau: nghỉ thai sản)", back_day))
    user_id(kc, boss)  # the administrators' accounts exist in Keycloak (imported from the directory)
    user_id(kc, it)

    # logins: p1 from two addresses at once (two applications), p3 once; p2, p4, p5 never
    relying_party(admin, stack, tst).login(p1.mail, password_for(p1.employee_number), browser=Browser())
    relying_party(admin, stack, tnhs).login(
        p1.mail, password_for(p1.employee_number), browser=Browser(local_address="127.0.0.2")
    )
    relying_party(admin, stack, tst).login(p3.mail, password_for(p3.employee_number))

    # p3: transferred to another field today — the worker ends TST (role group left, grant revoked, sessions
    # ended); then granted TNHS. p1's QLVB role revoked through the governance service.
    transfer_day = today_vn()
    lock(p3, LockReason.TRANSFERRED, "QD31-4/QĐ-BHXH", effective=transfer_day, end=None)
    assert _statuses(_tick(stack, world)) == [("apply", "applied")]
    world.expected.add((1, p3.mail, "TST", "operator", "Chuyển công tác sang lĩnh vực khác", transfer_day))
    grant(p3, "TNHS", "operator")
    with transaction(factory) as s:
        grants.revoke_grant(s, ctx=ctx, actor=load_actor(s, email=boss.mail),
                            grant_id=world.grant_ids[(p1.mail, "QLVB", "staff")])  # fmt: skip
    world.expected.add((1, p1.mail, "QLVB", "staff", "Thu hồi quyền", today_vn()))
    moved = _tick(stack, world)
    assert _statuses(moved) == [("join", "joined"), ("leave", "left"), ("leave", "left")], moved

    # out-of-band, as an administrator would in the Keycloak console: p4 re-enabled while the lock holds;
    # p5 put into TST/operator without any grant; a local account nobody knows
    kc.put(f"users/{user_id(kc, p4)}", {"enabled": True})
    kc.put(f"users/{user_id(kc, p5)}/groups/{group_id(kc, tst.group_path('operator'))}", {})
    if not kc.get("users", email=world.ghost, exact="true"):
        kc.post("users", {"username": world.ghost, "email": world.ghost, "enabled": True,
                          "firstName": "Ma", "lastName": "Nguyễn"})  # fmt: skip

    # the deputy is asked for a second factor (set-up by the test administrator) and sets it up on login
    admin.put(f"users/{user_id(admin, deputy)}", {"requiredActions": ["CONFIGURE_TOTP"]})
    relying_party(admin, stack, tst).login(deputy.mail, password_for(deputy.employee_number), set_up_totp=True)

    with transaction(factory) as s:
        world.login_events_stored = ingest_logins(s, ctx=ctx, actor=None, admin=kc)
    return world
