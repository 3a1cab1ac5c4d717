"""Lock lifecycle on the real servers: Keycloak 26 with the LDAP-federated realm, slapd, a real OIDC login.

A person logged into the demo application (code + PKCE, refresh token in hand) is locked by a decision: the
refresh is refused, a new login is refused, Keycloak shows zero sessions, and the application receives a valid
back-channel logout token. Future-dated decisions wait for midnight in Asia/Ho_Chi_Minh (injected clock); a
maternity lock comes back with the same role groups on its end date; a restarted scheduler applies exactly
once; and a Keycloak that is down at the effective time only delays the lock.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bridge.adapters.directory.lookup import DirectoryPerson, SnapshotDirectory
from bridge.adapters.keycloak.admin import KeycloakAdmin, service_account_admin
from bridge.adapters.store.lock_models import LockDecision, LockJob
from bridge.adapters.store.migrate import upgrade
from bridge.adapters.store.models import LedgerEntry
from bridge.adapters.store.session import make_engine, transaction
from bridge.clock import today_vn
from bridge.domain.catalogue import Application, by_code
from bridge.domain.lock_reasons import LockReason
from bridge.domain.policy import AdminRole
from bridge.domain.role_levels import load_catalogue
from bridge.domain.units import UnitTree
from bridge.errors import Forbidden
from bridge.services.context import GovContext, load_actor
from bridge.services.locks import decisions
from bridge.services.locks.keycloak_actions import KeycloakLocks
from bridge.services.locks.scheduler import JobOutcome, LockScheduler
from bridge.settings import PROJECT_ROOT, Settings
from bridge.testbed.backchannel import BackchannelReceiver
from bridge.testbed.directory_gen import Person, password_for
from bridge.testbed.stack import Stack, start_stack
from tests.integration.test_foundation import group_id, person_in, relying_party, user_id

pytestmark = pytest.mark.integration
CONFIG = PROJECT_ROOT / "keycloak-config"
IT_ADMIN = "qt.cntt@vss.gov.vn"
HN_ADMIN = "qt.lock@hanoi.vss.gov.vn"
DETAIL_KEYS = {"decision_id", "reason_code", "reason_label_vi", "decision_number", "decision_date",
               "effective_date", "unit_code", "role_groups", "applications"}  # fmt: skip


def at_vn_midnight(day: dt.date) -> dt.datetime:
    """00:00 of ``day`` in Asia/Ho_Chi_Minh, as an aware UTC moment."""
    return dt.datetime.combine(day - dt.timedelta(days=1), dt.time(17, 0), tzinfo=dt.UTC)


@dataclass
class World:
    factory: sessionmaker[Session]
    units: UnitTree
    directory: SnapshotDirectory
    clients: tuple[str, ...]

    def ctx(self, day: dt.date) -> GovContext:
        return GovContext(self.units, load_catalogue(CONFIG / "applications.yaml"), self.directory, day)

    def scheduler(self, admin: KeycloakAdmin, clock: dt.datetime | None = None, **options: object) -> LockScheduler:
        now = (lambda: clock) if clock is not None else (lambda: dt.datetime.now(dt.UTC))
        return LockScheduler(factory=self.factory, locks=KeycloakLocks(admin),
                             directory=self.directory, clock=now, **options)  # type: ignore[arg-type]  # fmt: skip

    def tick(self, settings: Settings, clock: dt.datetime | None = None, **options: object) -> list[JobOutcome]:
        """One scheduler pass in a fresh event loop, with its own admin client (as a worker process has)."""

        async def once() -> list[JobOutcome]:
            admin = service_account_admin(settings.keycloak)
            try:
                return await self.scheduler(admin, clock, **options).tick()
            finally:
                await admin.aclose()

        return asyncio.run(once())

    def lock(self, email: str, reason: LockReason, *, on: dt.date, effective: dt.date,
             end: dt.date | None = None, by: str = HN_ADMIN) -> LockDecision:  # fmt: skip
        with transaction(self.factory) as session:
            return decisions.request_lock(
                session, ctx=self.ctx(on), actor=load_actor(session, email=by), email=email, reason=reason,
                decision_number=f"{abs(hash((email, effective))) % 1000}/QĐ-BHXH", decision_date=on,
                effective_date=effective, end_date=end,
            )  # fmt: skip

    def ledger(self, action: str, email: str) -> list[LedgerEntry]:
        with self.factory() as session:
            query = select(LedgerEntry).where(LedgerEntry.action == action, LedgerEntry.target == f"person:{email}")
            return list(session.scalars(query.order_by(LedgerEntry.id)))


def make_world(stack: Stack, apps: tuple[Application, ...], url: str, today: dt.date) -> World:
    upgrade(url=url)
    factory = sessionmaker(make_engine(url), expire_on_commit=False)
    directory = SnapshotDirectory(
        DirectoryPerson(email=p.mail, full_name=p.full_name, unit_code=p.unit_code, title=p.title)
        for p in stack.slapd.people
    )
    world = World(factory, stack.units, directory, tuple(a.client for a in apps))
    from bridge.services import persons

    with transaction(factory) as session:
        ctx = world.ctx(today)
        persons.appoint_administrator(session, ctx=ctx, actor=None, email=IT_ADMIN,
                                      role=AdminRole.IT_CENTER_ADMIN, unit_code="00012")  # fmt: skip
        persons.appoint_administrator(session, ctx=ctx, actor=load_actor(session, email=IT_ADMIN), email=HN_ADMIN,
                                      role=AdminRole.PROVINCE_ADMIN, unit_code="01000")  # fmt: skip
    return world


@pytest.fixture()
def world(stack: Stack, apps: tuple[Application, ...], tmp_path: Path, today: dt.date) -> World:
    """A fresh store per test, so no test's jobs fall due in another's scheduler."""
    return make_world(stack, apps, f"sqlite:///{tmp_path / 'bridge.sqlite3'}", today)


@pytest.fixture()
def receiver(stack: Stack) -> Iterator[BackchannelReceiver]:
    with BackchannelReceiver(issuer=f"{stack.settings.keycloak.url}/realms/{stack.units.realm}",
                             client_id="demo-rp") as running:  # fmt: skip
        yield running


def join(admin: KeycloakAdmin, person: Person, *paths: str) -> str:
    uid = user_id(admin, person)
    for path in paths:
        admin.put(f"users/{uid}/groups/{group_id(admin, path)}", {})
    return uid


def app_groups(admin: KeycloakAdmin, uid: str) -> list[str]:
    return sorted(g["path"] for g in admin.get(f"users/{uid}/groups") if g["path"].startswith("/apps/"))


def test_lock_ends_a_real_session_refresh_login_and_tells_the_application(
    stack: Stack, admin: KeycloakAdmin, apps: tuple[Application, ...],
    world: World, receiver: BackchannelReceiver, today: dt.date,
) -> None:  # fmt: skip
    person = person_in(stack, "01", 21)
    uid = join(admin, person, "/apps/DEMO/user")
    demo = relying_party(admin, stack, by_code(apps, "DEMO"))
    password = password_for(person.employee_number)
    tokens = demo.login(person.mail, password).tokens
    assert "refresh_token" in tokens and len(admin.get(f"users/{uid}/sessions")) == 1

    decision = world.lock(person.mail, LockReason.TERMINATED, on=today, effective=today)
    outcomes = world.tick(stack.settings)

    assert [(o.decision_id, o.status) for o in outcomes] == [(decision.id, "applied")]
    with pytest.raises(Forbidden, match="refresh refused"):
        demo.refresh(tokens["refresh_token"])
    with pytest.raises(Forbidden, match="login refused"):
        demo.login(person.mail, password)
    assert admin.get(f"users/{uid}/sessions") == []
    assert admin.get(f"users/{uid}")["enabled"] is False
    logout = receiver.wait_for(uid)
    assert logout is not None, receiver.rejected
    assert logout["aud"] in ("demo-rp", ["demo-rp"]) and logout.get("sid")
    with world.factory() as session:
        stored = session.get(LockDecision, decision.id)
        assert stored is not None and stored.status == "in_force"
        assert stored.proof is not None
        assert (stored.proof["enabled"], stored.proof["sessions"], stored.proof["offline_sessions"]) == (False, 0, 0)
    [row] = world.ledger("lock", person.mail)
    assert set(row.detail) >= DETAIL_KEYS
    assert (row.detail["role_groups"], row.detail["applications"]) == (["/apps/DEMO/user"], ["DEMO"])
    assert row.detail["reason_label_vi"] == "chấm dứt làm việc"


def test_future_lock_waits_for_its_day_in_vietnam_then_applies(
    stack: Stack, admin: KeycloakAdmin, world: World, today: dt.date
) -> None:
    person = person_in(stack, "01", 22)
    uid = join(admin, person)
    monday = today + dt.timedelta(days=(7 - today.weekday()) or 7)
    decision = world.lock(person.mail, LockReason.RETIRED, on=today, effective=monday)

    just_before = at_vn_midnight(monday) - dt.timedelta(seconds=1)
    assert world.tick(stack.settings, just_before) == []
    assert admin.get(f"users/{uid}")["enabled"] is True

    outcomes = world.tick(stack.settings, at_vn_midnight(monday))
    assert [(o.decision_id, o.status) for o in outcomes] == [(decision.id, "applied")]
    assert admin.get(f"users/{uid}")["enabled"] is False
    assert len(world.ledger("lock", person.mail)) == 1


def test_maternity_leave_reinstates_with_the_same_role_groups_on_its_end_date(
    stack: Stack, admin: KeycloakAdmin, apps: tuple[Application, ...],
    world: World, today: dt.date,
) -> None:  # fmt: skip
    person = person_in(stack, "01", 23)
    uid = join(admin, person, "/apps/DEMO/user", "/apps/TST/operator")
    before = app_groups(admin, uid)
    end = today + dt.timedelta(days=180)
    decision = world.lock(person.mail, LockReason.MATERNITY, on=today, effective=today, end=end)
    world.tick(stack.settings)
    assert admin.get(f"users/{uid}")["enabled"] is False
    admin.delete(f"users/{uid}/groups/{group_id(admin, '/apps/TST/operator')}")  # drift while away

    day_before = at_vn_midnight(end) - dt.timedelta(seconds=1)
    assert world.tick(stack.settings, day_before) == []
    outcomes = world.tick(stack.settings, at_vn_midnight(end))

    assert [(o.kind, o.status) for o in outcomes] == [("reinstate", "applied")]
    assert admin.get(f"users/{uid}")["enabled"] is True
    assert app_groups(admin, uid) == before == ["/apps/DEMO/user", "/apps/TST/operator"]
    demo = relying_party(admin, stack, by_code(apps, "DEMO"))
    assert demo.login(person.mail, password_for(person.employee_number)).id_claims["email"] == person.mail
    [unlock] = world.ledger("unlock", person.mail)
    assert unlock.outcome == "allowed" and set(unlock.detail) >= DETAIL_KEYS
    assert unlock.detail["role_groups"] == before and unlock.detail["decision_id"] == decision.id


def test_reinstatement_waits_while_another_lock_holds(
    stack: Stack, admin: KeycloakAdmin, world: World, today: dt.date
) -> None:
    person = person_in(stack, "01", 24)
    uid = join(admin, person)
    end = today + dt.timedelta(days=30)
    world.lock(person.mail, LockReason.UNPAID_LEAVE, on=today, effective=today, end=end)
    world.lock(person.mail, LockReason.TERMINATED, on=today, effective=today + dt.timedelta(days=10))
    world.tick(stack.settings, at_vn_midnight(today + dt.timedelta(days=10)))
    world.tick(stack.settings, at_vn_midnight(end))
    assert admin.get(f"users/{uid}")["enabled"] is False
    [unlock] = world.ledger("unlock", person.mail)
    assert (unlock.outcome, unlock.rule) == ("refused", "L2-another-hold")


def test_transfer_ends_the_old_fields_role_groups_and_keeps_the_account(
    stack: Stack, admin: KeycloakAdmin, world: World, today: dt.date
) -> None:
    person = person_in(stack, "01", 25)
    uid = join(admin, person, "/apps/TST/operator", "/apps/KT/accountant")
    world.lock(person.mail, LockReason.TRANSFERRED, on=today, effective=today)
    world.tick(stack.settings)
    assert app_groups(admin, uid) == []
    assert admin.get(f"users/{uid}")["enabled"] is True
    revokes = world.ledger("revoke", person.mail)
    assert sorted((r.detail["application"], r.detail["role_group"], r.detail["reason"]) for r in revokes) == [
        ("KT", "accountant", "transferred"), ("TST", "operator", "transferred")]  # fmt: skip
    assert world.ledger("lock", person.mail) == []


def test_restarted_and_competing_schedulers_apply_exactly_once(
    stack: Stack, admin: KeycloakAdmin, world: World, today: dt.date
) -> None:
    person = person_in(stack, "01", 26)
    uid = join(admin, person)
    due = today + dt.timedelta(days=2)
    decision = world.lock(person.mail, LockReason.RETIRED, on=today,
                          effective=due)  # fmt: skip
    assert world.tick(stack.settings, worker_id="before-restart") == []
    # the worker process ends here; new processes start on the effective day, two of them at once

    async def two_workers() -> list[str]:
        a, b = service_account_admin(stack.settings.keycloak), service_account_admin(stack.settings.keycloak)
        try:
            results = await asyncio.gather(
                world.scheduler(a, at_vn_midnight(due), worker_id="after-restart-1").tick(),
                world.scheduler(b, at_vn_midnight(due), worker_id="after-restart-2").tick(),
            )
        finally:
            await a.aclose()
            await b.aclose()
        return [o.status for r in results for o in r]

    assert asyncio.run(two_workers()) == ["applied"]
    assert world.tick(stack.settings, at_vn_midnight(due) + dt.timedelta(hours=1), worker_id="third") == []
    assert admin.get(f"users/{uid}")["enabled"] is False
    assert [r.detail["decision_id"] for r in world.ledger("lock", person.mail)] == [decision.id]


def test_keycloak_down_at_the_effective_time_applies_once_when_back(
    apps: tuple[Application, ...], tmp_path: Path
) -> None:
    own = start_stack(size=60)  # its own Keycloak: the shared one must not stop
    try:
        today = today_vn()
        world = make_world(own, apps, f"sqlite:///{tmp_path / 'outage.sqlite3'}", today)
        person = next(p for p in own.slapd.people if p.unit_code.startswith("01") and p.unit_code != "01000")
        inspector = service_account_admin(own.settings.keycloak)
        uid = user_id(inspector, person)
        decision = world.lock(person.mail, LockReason.VIOLATION, on=today, effective=today, by=IT_ADMIN)

        own.keycloak.stop()
        down = world.tick(own.settings, retry_base_s=0.5)
        assert [(o.decision_id, o.status) for o in down] == [(decision.id, "failed")]
        with world.factory() as session:
            job = session.scalars(select(LockJob).where(LockJob.decision_id == decision.id)).one()
            assert (job.state, job.attempts, job.claimed_by) == ("pending", 1, None)

        own.keycloak.restart()
        later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)
        back = world.tick(own.settings, later)
        again = world.tick(own.settings, later)

        assert [(o.decision_id, o.status) for o in back] == [(decision.id, "applied")] and again == []
        assert inspector.get(f"users/{uid}")["enabled"] is False
        assert len(world.ledger("lock", person.mail)) == 1
    finally:
        own.close()
