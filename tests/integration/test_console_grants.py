"""Granting in the Keycloak console, on the real servers, with the administrators' own console tokens.

A Hà Nội administrator scoped by ``bridge console permissions`` (FGAP v2) adds a Hà Nội person to an
application role group below administrator level: Keycloak accepts, and the watcher turns the change into a
grant of the bridge (a Grant row and its ledger row, in the quarterly report), a removal into a revocation.
Keycloak itself refuses an escalation to ``/apps/<CODE>/admin`` and a person of another province (403). The same
administrator holding the legacy ``manage-users`` role gets past FGAP: the watcher refuses, reverts and ledgers.
An account created in the console for an outsider is disabled and ledgered within seconds (Công văn 907).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bridge.adapters.keycloak.admin import KeycloakAdmin
from bridge.adapters.store import ledger
from bridge.adapters.store.job_columns import DONE
from bridge.adapters.store.migrate import upgrade
from bridge.adapters.store.models import (
    Administrator,
    ApprovalDecision,
    ApprovalRequest,
    Grant,
    GrantJob,
    LedgerEntry,
)
from bridge.adapters.store.session import session_factory
from bridge.domain.policy import Actor, AdminRole
from bridge.domain.reports.quarter import Quarter
from bridge.services.approvals import subject_hash
from bridge.services.console import apply_console_permissions
from bridge.services.console_watcher import ConsoleWatcher
from bridge.services.grants import IN_KEYCLOAK, JOIN, LEAVE
from bridge.services.reports.build import build_unit_report
from bridge.settings import StoreSettings
from bridge.testbed.directory_gen import Person, password_for
from bridge.testbed.stack import Stack
from tests.integration.test_console_watcher import make_watcher
from tests.integration.test_credentials import _console_token
from tests.integration.test_foundation import group_id, person_in, user_id

pytestmark = pytest.mark.integration


def wait_for(check: Callable[[], bool], *, timeout_s: float = 20, what: str) -> float:
    """Seconds until ``check()`` holds (polled every 50 ms); fails after ``timeout_s``."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout_s, f"not within {timeout_s} s: {what}"
        time.sleep(0.05)
    return time.monotonic() - started


@contextmanager
def watching(watcher: ConsoleWatcher, *, interval_s: float = 0.5) -> Iterator[None]:
    """The watcher's blocking loop in a thread for the block."""
    stop = threading.Event()
    thread = threading.Thread(target=lambda: watcher.watch(interval_s=interval_s, stop=stop.is_set), daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=20)


def appoint(sessions: sessionmaker[Session], person: Person, unit_code: str) -> None:
    with sessions() as session, session.begin():
        session.add(
            Administrator(
                email=person.mail, role="province_admin", unit_code=unit_code, appointed_by="it.admin@vss.gov.vn",
                appointed_at=dt.datetime.now(dt.UTC),
            )
        )  # fmt: skip


def in_unit_group(stack: Stack, bridge_admin: KeycloakAdmin, person: Person, today: dt.date) -> str:
    """The person's Keycloak id, after putting them into their unit group (as the sync would)."""
    uid = user_id(bridge_admin, person)
    bridge_admin.put(
        f"users/{uid}/groups/{group_id(bridge_admin, stack.units.group_path(person.unit_code, today))}", {}
    )
    return uid


def bearer(stack: Stack, person: Person) -> dict[str, str]:
    """Headers carrying the person's own token from the admin console's login."""
    return {"Authorization": f"Bearer {_console_token(stack, person.mail, password_for(person.employee_number))}"}


def paths(admin: KeycloakAdmin, uid: str) -> set[str]:
    return {g["path"] for g in admin.get(f"users/{uid}/groups")}


def rows(sessions: sessionmaker[Session], *, actor: str) -> list[LedgerEntry]:
    with sessions() as session:
        return list(session.scalars(select(LedgerEntry).where(LedgerEntry.actor == actor).order_by(LedgerEntry.id)))


def test_console_grants_become_bridge_grants_and_escalations_are_refused(
    stack: Stack, admin: KeycloakAdmin, bridge_admin: KeycloakAdmin, tmp_path: Path, today: dt.date
) -> None:
    url = f"sqlite:///{tmp_path / 'grants.sqlite3'}"
    upgrade(url=url)
    sessions = session_factory(url)
    hanoi_admin, own, foreign = person_in(stack, "01", 80), person_in(stack, "01", 81), person_in(stack, "79", 82)
    danang_admin = person_in(stack, "48", 40)
    appoint(sessions, hanoi_admin, "01000")
    appoint(sessions, danang_admin, "48000")  # two provinces share the role groups' permission
    ids = {p.mail: in_unit_group(stack, bridge_admin, p, today) for p in (hanoi_admin, danang_admin, own, foreign)}
    settings = stack.settings.model_copy(update={"store": StoreSettings(url=url)})
    assert apply_console_permissions(settings, day=today) == {"01000": 1, "48000": 1}
    base = f"{stack.settings.keycloak.url}/admin/realms/bhxh"
    headers = bearer(stack, hanoi_admin)
    operator, top = group_id(admin, "/apps/TST/operator"), group_id(admin, "/apps/TST/admin")
    watcher = make_watcher(stack, bridge_admin, sessions)

    with watching(watcher):
        # in scope, below administrator level: Keycloak accepts, the bridge records a grant
        assert httpx.put(f"{base}/users/{ids[own.mail]}/groups/{operator}", headers=headers).status_code == 204
        granted_s = wait_for(lambda: _grant(sessions, own.mail) is not None, what="the console grant recorded")
        # escalation and another province's person: Keycloak refuses them (FGAP v2), nothing changes
        assert httpx.put(f"{base}/users/{ids[own.mail]}/groups/{top}", headers=headers).status_code == 403
        assert httpx.put(f"{base}/users/{ids[foreign.mail]}/groups/{operator}", headers=headers).status_code == 403
        danang = bearer(stack, danang_admin)
        assert httpx.put(f"{base}/users/{ids[own.mail]}/groups/{operator}", headers=danang).status_code == 403
        # a removal in the console is a revocation
        assert httpx.delete(f"{base}/users/{ids[own.mail]}/groups/{operator}", headers=headers).status_code == 204
        wait_for(lambda: _grant(sessions, own.mail, revoked=True) is not None, what="the console revocation")

        # the same administrator with the legacy manage-users role gets past FGAP: the watcher reverts
        rm = admin.get("clients", clientId="realm-management")[0]["id"]
        legacy = [admin.get(f"clients/{rm}/roles/manage-users")]
        admin.post(f"users/{ids[hanoi_admin.mail]}/role-mappings/clients/{rm}", legacy)
        try:
            rogue = bearer(stack, hanoi_admin)  # a new login: the token carries the legacy role
            assert httpx.put(f"{base}/users/{ids[own.mail]}/groups/{top}", headers=rogue).status_code == 204
            assert httpx.put(f"{base}/users/{ids[foreign.mail]}/groups/{operator}", headers=rogue).status_code == 204
            reverted_s = wait_for(
                lambda: (
                    "/apps/TST/admin" not in paths(admin, ids[own.mail])
                    and "/apps/TST/operator" not in paths(admin, ids[foreign.mail])
                ),
                what="escalation and out-of-province grant reverted",
            )
        finally:
            admin.delete(f"users/{ids[hanoi_admin.mail]}/role-mappings/clients/{rm}", legacy)
    print(
        f"console grant recorded {granted_s:.2f} s after Keycloak accepted it; refusals reverted in {reverted_s:.2f} s"
    )

    grant = _grant(sessions, own.mail, revoked=True)
    assert grant is not None and grant.request_id.startswith("console:") and grant.granted_by == hanoi_admin.mail
    outcomes = [(r.action, r.target, r.outcome, r.rule) for r in rows(sessions, actor=hanoi_admin.mail)]
    assert outcomes == [
        ("grant", f"person:{own.mail}", "allowed", "R4-province-own-units"),
        ("revoke", f"person:{own.mail}", "allowed", "R4-province-own-units"),
        ("console:grant", own.mail, "refused", "R10-no-escalation"),
        ("console:grant", foreign.mail, "refused", "R5-province-out-of-scope"),
    ]
    assert paths(admin, ids[own.mail]) == {stack.units.group_path(own.unit_code, today)}
    with sessions() as session:
        # the console made both memberships: their jobs are recorded done, none is left for the worker to re-apply
        jobs = session.scalars(select(GrantJob).where(GrantJob.grant_id == grant.id).order_by(GrantJob.id)).all()
        assert [(j.kind, j.state, j.result) for j in jobs] == [
            (JOIN, DONE, IN_KEYCLOAK),
            (LEAVE, DONE, IN_KEYCLOAK),
        ]
        assert ledger.verify(session).broken is None
        actor = Actor(hanoi_admin.mail, AdminRole.PROVINCE_ADMIN, "01000")
        report = build_unit_report(
            session, ctx=watcher.context(today), actor=actor, unit_code="01000", quarter=str(Quarter.of(today))
        )
    assert [(r.email, r.application, r.role_group) for r in report.added if r.grant_id == grant.id] == [
        (own.mail, "TST", "operator")
    ]
    assert [(r.email, r.role_group) for r in report.removed if r.grant_id == grant.id] == [(own.mail, "operator")]


def _grant(sessions: sessionmaker[Session], email: str, *, revoked: bool = False) -> Grant | None:
    with sessions() as session:
        query = select(Grant).where(Grant.email == email)
        query = query.where(Grant.revoked_at.is_not(None) if revoked else Grant.revoked_at.is_(None))
        return session.scalars(query).first()


def test_an_outsider_account_created_in_the_console_is_disabled_and_ledgered_within_5_s(
    stack: Stack, admin: KeycloakAdmin, bridge_admin: KeycloakAdmin, tmp_path: Path, today: dt.date
) -> None:
    url = f"sqlite:///{tmp_path / 'outsider.sqlite3'}"
    upgrade(url=url)
    sessions = session_factory(url)
    creator = person_in(stack, "01", 90)
    appoint(sessions, creator, "01000")
    creator_id = in_unit_group(stack, bridge_admin, creator, today)
    base = f"{stack.settings.keycloak.url}/admin/realms/bhxh"
    # a leadership-approved exception for one contractor of Hà Nội (ngoại lệ, R14)
    excepted = "tu.vt@contractor.example.vn"
    subject = {"email": excepted, "unit_code": "01000", "application": "TST", "role_group": "operator"}
    with sessions() as session, session.begin():
        request = ApprovalRequest(
            kind="exception", subject=subject, subject_hash=subject_hash(subject), unit_code="01000",
            requested_by=creator.mail, requested_at=dt.datetime.now(dt.UTC), required_approvals=1, status="approved",
        )  # fmt: skip
        session.add(request)
        session.flush()
        session.add(
            ApprovalDecision(
                request_id=request.id, approver="lanh.dao@vss.gov.vn", approved=True,
                subject_hash=subject_hash(subject), decided_at=dt.datetime.now(dt.UTC),
            )
        )  # fmt: skip
    rm = admin.get("clients", clientId="realm-management")[0]["id"]
    legacy = [admin.get(f"clients/{rm}/roles/manage-users")]
    # with FGAP v2 alone a provincial administrator cannot create accounts at all
    assert httpx.post(f"{base}/users", headers=bearer(stack, creator), json={"username": "x.y"}).status_code == 403
    admin.post(f"users/{creator_id}/role-mappings/clients/{rm}", legacy)
    watcher = make_watcher(stack, bridge_admin, sessions)
    try:
        headers = bearer(stack, creator)
        with watching(watcher):
            suffix = str(time.time_ns())[-8:]
            outsider = f"ban.cua.{suffix}@gmail.com"
            created = httpx.post(
                f"{base}/users", headers=headers,
                json={"username": outsider, "email": outsider, "firstName": "Bạn", "lastName": "Của", "enabled": True},
            )  # fmt: skip
            accepted = time.monotonic()
            assert created.status_code == 201
            outsider_id = created.headers["Location"].rsplit("/", 1)[-1]
            allowed = httpx.post(
                f"{base}/users",
                headers=headers,
                json={"username": f"tu.vt.{suffix}", "email": excepted, "enabled": True},
            )
            assert allowed.status_code == 201
            allowed_id = allowed.headers["Location"].rsplit("/", 1)[-1]
            disabled_s = wait_for(
                lambda: admin.get(f"users/{outsider_id}")["enabled"] is False, timeout_s=20, what="outsider disabled"
            )
            wait_for(lambda: len(rows(sessions, actor=creator.mail)) == 2, what="both creations ledgered")
            ledgered_s = time.monotonic() - accepted
    finally:
        admin.delete(f"users/{creator_id}/role-mappings/clients/{rm}", legacy)
    print(f"console outsider disabled {disabled_s:.2f} s after Keycloak created it; ledgered by {ledgered_s:.2f} s")
    assert disabled_s < 5
    assert admin.get(f"users/{allowed_id}")["enabled"] is True
    by_target = {r.target: r for r in rows(sessions, actor=creator.mail)}
    assert (by_target[outsider].action, by_target[outsider].outcome, by_target[outsider].rule) == (
        "console:create", "refused", "E2-not-eligible",
    )  # fmt: skip
    assert by_target[outsider].detail["reverted"] is True
    assert (by_target[excepted].outcome, by_target[excepted].detail["reverted"]) == ("allowed", False)
    for uid in (outsider_id, allowed_id):
        admin.delete(f"users/{uid}")
