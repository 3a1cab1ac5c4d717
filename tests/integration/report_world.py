"""A quarter of real activity in Hải Phòng (31000), made through the bridge against the real servers.

Grants and revocations go through the governance service; locks, the reinstatement and the transfer are
written as the lock engine (issue 5) writes them — ledger rows of its vocabulary plus the Keycloak change —
until that engine is merged; staff log in through Keycloak's real login form (RelyingParty), one of them from
two addresses at once. What happened is kept in :class:`World` so the tests can compare the report with it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from bridge.catalogue import Application, by_code
from bridge.clock import today_vn
from bridge.errors import Forbidden
from bridge.governance import grants, ledger, persons
from bridge.governance.catalogue import load_catalogue
from bridge.governance.directory import DirectoryPerson, SnapshotDirectory
from bridge.governance.policy import AdminRole
from bridge.governance.scope import GovContext, load_actor
from bridge.reports.quarter import Quarter
from bridge.reports.service import ingest_logins
from bridge.settings import PROJECT_ROOT
from bridge.store.migrate import upgrade
from bridge.store.models import Grant
from bridge.store.session import make_engine, transaction
from bridge.testbed.directory_gen import Person, password_for
from bridge.testbed.relying_party import Browser
from bridge.testbed.stack import Stack
from provisioning.keycloak.admin import KeycloakAdmin
from tests.integration.test_foundation import group_id, relying_party, user_id

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
    #: (section, email, application, role group, reason, date) of every report line the activity must make.
    expected: set[tuple[int, str, str, str, str, dt.date]] = field(default_factory=set)
    #: Every grant made, by (email, application, role group).
    grant_ids: dict[tuple[str, str, str], int] = field(default_factory=dict)
    login_events_stored: int = 0


def _kc_join(kc: KeycloakAdmin, person: Person, app: Application, role: str, *, leave: bool = False) -> None:
    uid = user_id(kc, person)
    path = f"users/{uid}/groups/{group_id(kc, app.group_path(role))}"
    kc.delete(path) if leave else kc.put(path, {})


def _lock_detail(person: Person, *, decision: str, reason: str, label: str, day: dt.date,
                 app: str, role: str, end: dt.date | None = None) -> dict[str, object]:  # fmt: skip
    """The detail the lock engine (branch ``lock``, ``bridge.locks.service.ledger_detail``) writes."""
    return {
        "decision_id": decision, "reason_code": reason, "reason_label_vi": label,
        "decision_number": f"{decision}/QĐ-BHXH", "decision_date": day.isoformat(),
        "effective_date": day.isoformat(), "end_date": end.isoformat() if end else None,
        "unit_code": person.unit_code, "role_groups": [f"/apps/{app}/{role}"], "applications": [app],
    }  # fmt: skip


def build_world(stack: Stack, admin: KeycloakAdmin, kc: KeycloakAdmin, tmp: Path) -> World:
    """Make the quarter happen; returns what the report must show."""
    today = today_vn()
    quarter = Quarter.of(today)
    start = quarter.first_day
    catalogue = load_catalogue(PROJECT_ROOT / "keycloak-config" / "applications.yaml")
    apps = dict(catalogue.applications)
    people = stack.slapd.people
    it = next(p for p in people if p.unit_code == "00012")
    hp = [p for p in people if stack.units.province_of(p.unit_code, today) is not None
          and stack.units.province_of(p.unit_code, today).code == PROVINCE]  # type: ignore[union-attr]  # fmt: skip
    boss, staff = hp[0], hp[1:6]
    directory = SnapshotDirectory(
        DirectoryPerson(p.mail, p.full_name, p.unit_code, title=p.title) for p in people
    )
    url = f"sqlite:///{tmp / 'report-world.sqlite3'}"
    upgrade(url=url)
    factory = sessionmaker(make_engine(url), expire_on_commit=False)
    ctx = GovContext(stack.units, catalogue, directory, today)
    world = World(factory, ctx, quarter, today, it, boss, staff, ghost="ghost.nv@haiphong.vss.gov.vn")
    p1, p2, p3, p4, p5 = staff
    with transaction(factory) as s:
        persons.appoint_administrator(s, ctx=ctx, actor=None, email=it.mail, role=AdminRole.IT_CENTER_ADMIN,
                                      unit_code="00012")  # fmt: skip
        persons.appoint_administrator(s, ctx=ctx, actor=load_actor(s, email=it.mail), email=boss.mail,
                                      role=AdminRole.PROVINCE_ADMIN, unit_code=PROVINCE)  # fmt: skip

    def grant(person: Person, app: str, role: str) -> None:
        with transaction(factory) as s:
            made = grants.request_grant(s, ctx=ctx, actor=load_actor(s, email=boss.mail), email=person.mail,
                                        application=app, role_group=role, request_ref=f"PL01-{person.uid}")  # fmt: skip
        world.grant_ids[(person.mail, app, role)] = made.id
        _kc_join(kc, person, apps[app], role)
        world.expected.add((2, person.mail, app, role, "Cấp mới", today))

    for person, app, role in ((p1, "TST", "operator"), (p1, "QLVB", "staff"), (p2, "TNHS", "operator"),
                              (p3, "TST", "operator"), (p4, "QLVB", "staff")):  # fmt: skip
        grant(person, app, role)
    user_id(kc, boss)  # the administrator's account exists in Keycloak (imported from the directory)
    user_id(kc, it)

    # logins: p1 from two addresses at once (two applications), p3 once; p2, p4, p5 never
    tst, tnhs = by_code(tuple(apps.values()), "TST"), by_code(tuple(apps.values()), "TNHS")
    relying_party(admin, stack, tst).login(p1.mail, password_for(p1.employee_number), browser=Browser())
    relying_party(admin, stack, tnhs).login(
        p1.mail, password_for(p1.employee_number), browser=Browser(local_address="127.0.0.2")
    )
    relying_party(admin, stack, tst).login(p3.mail, password_for(p3.employee_number))

    # p2: maternity from the quarter's first day (account disabled), back today (enabled again)
    uid2 = user_id(kc, p2)
    with transaction(factory) as s:
        ledger.append(s, actor=boss.mail, action="lock", target=f"person:{p2.mail}", outcome="allowed",
                      rule="R4-province-own-units", detail=_lock_detail(p2, decision="QD31-1", reason="maternity",
                      label="Nghỉ thai sản", day=start, app="TNHS", role="operator", end=today))  # fmt: skip
        kc.put(f"users/{uid2}", {"enabled": False})
    try:
        relying_party(admin, stack, tnhs).login(p2.mail, password_for(p2.employee_number))
        raise AssertionError("a locked account logged in")
    except Forbidden:
        pass
    with transaction(factory) as s:
        # the lock engine repeats the lock's detail (its effective date) on the unlock row; the end date counts
        detail = _lock_detail(p2, decision="QD31-1", reason="maternity", label="Nghỉ thai sản", day=start,
                              app="TNHS", role="operator", end=today)  # fmt: skip
        ledger.append(s, actor=boss.mail, action="unlock", target=f"person:{p2.mail}", outcome="allowed",
                      rule="R4-province-own-units", detail=detail)  # fmt: skip
        kc.put(f"users/{uid2}", {"enabled": True})
    world.expected.add((1, p2.mail, "TNHS", "operator", "Nghỉ thai sản", start))
    world.expected.add((2, p2.mail, "TNHS", "operator", "Mở khóa, khôi phục quyền (sau: nghỉ thai sản)", today))

    # p4: long sick leave decided, but the account was never disabled (the review must catch it)
    with transaction(factory) as s:
        detail = _lock_detail(p4, decision="QD31-3", reason="long_sick_leave", label="Ốm đau dài ngày",
                              day=start, app="QLVB", role="staff")  # fmt: skip
        ledger.append(s, actor=boss.mail, action="lock", target=f"person:{p4.mail}", outcome="allowed",
                      rule="R4-province-own-units", detail=detail)  # fmt: skip
    world.expected.add((1, p4.mail, "QLVB", "staff", "Ốm đau dài ngày", start))

    # p3: transferred to another field — TST ends (as the lock engine writes it), TNHS granted
    with transaction(factory) as s:
        old = s.get(Grant, world.grant_ids[(p3.mail, "TST", "operator")])
        assert old is not None
        old.revoked_at, old.revoked_by = dt.datetime.now(dt.UTC), boss.mail
        ledger.append(s, actor=boss.mail, action="revoke", target=f"person:{p3.mail}", outcome="allowed",
                      rule="R4-province-own-units", detail={"grant": old.id, "application": "TST",
                      "role_group": "operator", "unit": old.unit_code, "reason": "transferred",
                      "decision_number": "QD31-4/QĐ-BHXH", "decision_date": today.isoformat(),
                      "effective_date": today.isoformat()})  # fmt: skip
    _kc_join(kc, p3, tst, "operator", leave=True)
    world.expected.add((1, p3.mail, "TST", "operator", "Chuyển công tác sang lĩnh vực khác", today))
    grant(p3, "TNHS", "operator")

    # p1's QLVB role revoked through the governance service
    with transaction(factory) as s:
        grants.revoke_grant(s, ctx=ctx, actor=load_actor(s, email=boss.mail),
                            grant_id=world.grant_ids[(p1.mail, "QLVB", "staff")])  # fmt: skip
    _kc_join(kc, p1, apps["QLVB"], "staff", leave=True)
    world.expected.add((1, p1.mail, "QLVB", "staff", "Thu hồi quyền", today))

    # p5 put into TST/operator by hand in Keycloak, without any grant; a local account nobody knows
    _kc_join(kc, p5, tst, "operator")
    if not kc.get("users", email=world.ghost, exact="true"):
        kc.post("users", {"username": world.ghost, "email": world.ghost, "enabled": True,
                          "firstName": "Ma", "lastName": "Nguyễn"})  # fmt: skip

    with transaction(factory) as s:
        world.login_events_stored = ingest_logins(s, ctx=ctx, actor=None, admin=kc)
    return world
