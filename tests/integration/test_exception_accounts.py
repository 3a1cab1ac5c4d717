"""Approved outsider accounts on the real servers (Công văn 907: no account outside the directory without
leadership approval): nothing exists before the approval; after it the worker creates a local Keycloak account in
the approved unit and role group, Keycloak e-mails the person (through the test bed's real SMTP server) a link to
its own "update password" action, the person sets the password there and logs into the application, and on the
approved end date the lock scheduler disables the account and ends its sessions. Until then the account review
lists it as an exception account with its approval.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from bridge.adapters.keycloak.admin import KeycloakAdmin
from bridge.adapters.store.exception_models import ExceptionAccount
from bridge.adapters.store.models import LedgerEntry
from bridge.adapters.store.session import transaction
from bridge.domain.catalogue import Application, by_code
from bridge.domain.policy import AdminRole
from bridge.errors import Forbidden
from bridge.services import approvals_in_scope, exception_accounts, persons
from bridge.services.context import load_actor
from bridge.services.reports.keycloak_reader import keycloak_reader
from bridge.services.reports.review import FindingKind, review_unit
from bridge.testbed.relying_party import Browser, set_password_from_link
from bridge.testbed.stack import Stack
from tests.integration.test_foundation import relying_party
from tests.integration.test_locks import HN_ADMIN, IT_ADMIN, World, app_groups, at_vn_midnight, make_world

pytestmark = pytest.mark.integration
LEADER = "ld.nganh@vss.gov.vn"
PASSWORD = "Khach#Moi-2026-xyz"


@pytest.fixture()
def world(stack: Stack, apps: tuple[Application, ...], tmp_path: Path, today: dt.date) -> World:
    made = make_world(stack, apps, f"sqlite:///{tmp_path / 'bridge.sqlite3'}", today)
    with transaction(made.factory) as session:
        persons.appoint_administrator(session, ctx=made.ctx(today), actor=load_actor(session, email=IT_ADMIN),
                                      email=LEADER, role=AdminRole.LEADERSHIP, unit_code="00000")  # fmt: skip
    return made


def hanoi_branch(stack: Stack, today: dt.date) -> str:
    units = stack.units
    return next(code for code in sorted(units.on(today)) if code != "01000" and units.is_under(code, "01000", today))


def users_named(admin: KeycloakAdmin, email: str) -> list[dict[str, object]]:
    return [u for u in admin.get("users", email=email, exact="true") if str(u.get("email")) == email]


def test_an_approved_outsider_account_is_created_sets_its_password_from_the_email_logs_in_and_ends_on_its_end_date(
    stack: Stack,
    admin: KeycloakAdmin,
    bridge_admin: KeycloakAdmin,
    apps: tuple[Application, ...],
    world: World,
    today: dt.date,
) -> None:
    assert stack.mailbox is not None, "the test bed runs an SMTP server for the realm"
    outsider = f"khach.{uuid.uuid4().hex[:8]}@congty-ngoai.vn"
    unit = hanoi_branch(stack, today)
    end = today + dt.timedelta(days=30)
    with transaction(world.factory) as session:
        request = exception_accounts.request_exception_account(
            session, ctx=world.ctx(today), actor=load_actor(session, email=HN_ADMIN), email=outsider,
            full_name="Trần Thị Khách", unit_code=unit, application="TST", role_group="operator", end_date=end,
            reason="Hỗ trợ triển khai phần mềm TST",
        )  # fmt: skip
        approval_id = request.id
    assert world.tick(stack.settings) == [], "nothing is created before leadership approves"
    assert users_named(admin, outsider) == []

    with transaction(world.factory) as session:
        decided = approvals_in_scope.decide_in_scope(
            session, ctx=world.ctx(today), actor=load_actor(session, email=LEADER), approval_id=approval_id,
            approve=True,
        )  # fmt: skip
        assert decided.status == "approved"
    outcomes = world.tick(stack.settings)
    assert [(o.kind, o.status) for o in outcomes] == [("account", "created")]
    [user] = users_named(admin, outsider)
    uid = str(user["id"])
    full = admin.get(f"users/{uid}")
    assert full["enabled"] is True and not full.get("federationLink"), "a local account, not a federated one"
    assert (full["firstName"], full["lastName"]) == ("Thị Khách", "Trần")
    groups = sorted(g["path"] for g in admin.get(f"users/{uid}/groups"))
    assert stack.units.group_path(unit, today) in groups
    assert app_groups(admin, uid) == ["/apps/TST/operator"]
    with world.factory() as session:
        account = session.scalars(select(ExceptionAccount).where(ExceptionAccount.email == outsider)).one()
        assert (account.status, account.user_id, account.end_date, account.approval_id) == (
            "active", uid, end, approval_id)  # fmt: skip

    [message] = stack.mailbox.wait_for(outsider, timeout_s=30)
    links = [link for link in message.links() if "action-token" in link]
    assert links, f"no action link in Keycloak's e-mail: {message.text()[:500]}"
    done = set_password_from_link(Browser(), links[0], PASSWORD)
    assert done.status_code in (200, 302), done.text[:300]
    tst = relying_party(admin, stack, by_code(apps, "TST"))
    claims = tst.login(outsider, PASSWORD).id_claims
    assert claims["email"] == outsider
    assert "/apps/TST/operator" in claims["groups"]
    with transaction(world.factory) as session:
        findings = review_unit(session, ctx=world.ctx(today), actor=load_actor(session, email=HN_ADMIN),
                               unit_code="01000", read_facts=keycloak_reader(bridge_admin))  # fmt: skip
    about = [(f.kind, f.detail) for f in findings if f.email == outsider]
    assert [kind for kind, _ in about] == [FindingKind.EXCEPTION_ACCOUNT], "an exception account, not an outsider"
    assert f"phê duyệt số {approval_id}" in about[0][1] and f"{end:%d/%m/%Y}" in about[0][1]

    assert world.tick(stack.settings, at_vn_midnight(end - dt.timedelta(days=1))) == [], "not before the end date"
    outcomes = world.tick(stack.settings, at_vn_midnight(end))
    assert [(o.kind, o.status) for o in outcomes] == [("apply", "applied")]
    assert admin.get(f"users/{uid}")["enabled"] is False
    assert admin.get(f"users/{uid}/sessions") == []
    with pytest.raises(Forbidden):
        tst.login(outsider, PASSWORD)
    with world.factory() as session:
        account = session.scalars(select(ExceptionAccount).where(ExceptionAccount.email == outsider)).one()
        assert account.status == "ended"
        rows = session.scalars(select(LedgerEntry).where(LedgerEntry.target == f"person:{outsider}")
                               .order_by(LedgerEntry.id)).all()  # fmt: skip
    actions = [(r.action, r.detail.get("reason_code")) for r in rows]
    assert ("exception_account.create", None) in actions
    assert ("lock", "exception_ended") in actions
    assert [r.detail.get("exception_id") for r in rows if r.action == "exception_account.create"] == [approval_id]


def test_an_exception_account_needs_the_approval_of_leadership_not_of_an_administrator(
    stack: Stack, world: World, today: dt.date
) -> None:
    outsider = f"khach.{uuid.uuid4().hex[:8]}@congty-ngoai.vn"
    with transaction(world.factory) as session:
        request = exception_accounts.request_exception_account(
            session, ctx=world.ctx(today), actor=load_actor(session, email=HN_ADMIN), email=outsider,
            full_name="Lê Văn Ngoài", unit_code=hanoi_branch(stack, today), application="TST",
            role_group="operator", end_date=today + dt.timedelta(days=10), reason="thử",
        )  # fmt: skip
        approval_id = request.id
    with pytest.raises(Forbidden), transaction(world.factory) as session:
        approvals_in_scope.decide_in_scope(session, ctx=world.ctx(today), actor=load_actor(session, email=IT_ADMIN),
                                           approval_id=approval_id, approve=True)  # fmt: skip
    with world.factory() as session:
        assert session.scalars(select(ExceptionAccount)).all() == []
