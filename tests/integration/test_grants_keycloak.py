"""Grants reach Keycloak (docs/decisions/0403): a grant made through the governance service puts the person into
the application's role group once the scheduler's worker runs, the token of a real login carries it, and a
revocation takes it away — on the real Keycloak 26 realm federated from slapd.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from bridge.adapters.keycloak.admin import KeycloakAdmin
from bridge.adapters.store.models import Grant, GrantJob
from bridge.adapters.store.session import transaction
from bridge.domain.catalogue import Application, by_code
from bridge.domain.lock_reasons import LockReason
from bridge.services import grants
from bridge.services.context import load_actor
from bridge.testbed.directory_gen import password_for
from bridge.testbed.stack import Stack
from tests.integration.test_foundation import person_in, relying_party, user_id
from tests.integration.test_locks import HN_ADMIN, World, app_groups, at_vn_midnight, make_world

pytestmark = pytest.mark.integration
TST_OPERATOR = "/apps/TST/operator"


@pytest.fixture()
def world(stack: Stack, apps: tuple[Application, ...], tmp_path: Path, today: dt.date) -> World:
    """A fresh store per test (the lock tests' world: Hà Nội's administrator, the IT Center's)."""
    return make_world(stack, apps, f"sqlite:///{tmp_path / 'bridge.sqlite3'}", today)


def _grant(world: World, today: dt.date, email: str) -> Grant:
    with transaction(world.factory) as session:
        return grants.request_grant(session, ctx=world.ctx(today), actor=load_actor(session, email=HN_ADMIN),
                                    email=email, application="TST", role_group="operator")  # fmt: skip


def _revoke(world: World, today: dt.date, grant_id: int) -> Grant:
    with transaction(world.factory) as session:
        return grants.revoke_grant(session, ctx=world.ctx(today), actor=load_actor(session, email=HN_ADMIN),
                                   grant_id=grant_id)  # fmt: skip


def test_grant_joins_the_role_group_the_token_carries_it_and_revocation_removes_it(
    stack: Stack, admin: KeycloakAdmin, apps: tuple[Application, ...], world: World, today: dt.date
) -> None:
    person = person_in(stack, "01", 31)
    tst = relying_party(admin, stack, by_code(apps, "TST"))
    password = password_for(person.employee_number)

    grant = _grant(world, today, person.mail)
    uid = user_id(admin, person)
    assert TST_OPERATOR not in app_groups(admin, uid), "nothing reaches Keycloak before the worker runs"
    with world.factory() as session:
        [job] = session.scalars(select(GrantJob).where(GrantJob.grant_id == grant.id)).all()
        assert (job.kind, job.state, job.path) == ("join", "pending", TST_OPERATOR)

    outcomes = world.tick(stack.settings)
    assert [(o.grant_id, o.kind, o.status) for o in outcomes] == [(grant.id, "join", "joined")]
    assert world.tick(stack.settings) == [], "a done job is not applied again"
    assert TST_OPERATOR in app_groups(admin, uid)
    with world.factory() as session:
        stored = session.get(Grant, grant.id)
        assert stored is not None and stored.applied_at is not None and stored.removed_at is None
    claims = tst.login(person.mail, password).id_claims
    assert TST_OPERATOR in claims["groups"]

    _revoke(world, today, grant.id)
    outcomes = world.tick(stack.settings)
    assert [(o.grant_id, o.kind, o.status) for o in outcomes] == [(grant.id, "leave", "left")]
    assert TST_OPERATOR not in app_groups(admin, uid)
    with world.factory() as session:
        stored = session.get(Grant, grant.id)
        assert stored is not None and stored.removed_at is not None
    assert TST_OPERATOR not in tst.login(person.mail, password).id_claims.get("groups", [])


def test_revocation_keeps_the_membership_while_another_grant_holds_it_and_a_locked_person_is_joined(
    stack: Stack, admin: KeycloakAdmin, world: World, today: dt.date
) -> None:
    regranted, locked = person_in(stack, "01", 32), person_in(stack, "01", 33)
    first = _grant(world, today, regranted.mail)
    world.lock(locked.mail, LockReason.LONG_SICK_LEAVE, on=today, effective=today,
               end=today + dt.timedelta(days=60))  # fmt: skip
    world.tick(stack.settings)  # first grant joined; the lock is in force: account disabled
    locked_uid = user_id(admin, locked)
    assert admin.get(f"users/{locked_uid}")["enabled"] is False

    _revoke(world, today, first.id)
    second = _grant(world, today, regranted.mail)  # granted again before the worker saw the revocation
    held_grant = _grant(world, today, locked.mail)

    outcomes = world.tick(stack.settings)  # jobs of one person and role group run in order: the join waits
    assert sorted((o.grant_id, o.kind, o.status) for o in outcomes) == sorted(
        [(first.id, "leave", "kept"), (held_grant.id, "join", "joined")]
    )
    assert [(o.grant_id, o.kind, o.status) for o in world.tick(stack.settings)] == [(second.id, "join", "joined")]
    assert TST_OPERATOR in app_groups(admin, user_id(admin, regranted))
    assert TST_OPERATOR in app_groups(admin, locked_uid), "membership is recorded while the account is locked"
    assert admin.get(f"users/{locked_uid}")["enabled"] is False, "and the lock still holds"


def test_a_role_group_revoked_while_locked_does_not_come_back_with_the_reinstatement(
    stack: Stack, admin: KeycloakAdmin, world: World, today: dt.date
) -> None:
    person = person_in(stack, "01", 34)
    grant = _grant(world, today, person.mail)
    end = today + dt.timedelta(days=30)
    world.lock(person.mail, LockReason.MATERNITY, on=today, effective=today, end=end)
    assert sorted((o.kind, o.status) for o in world.tick(stack.settings)) == [("apply", "applied"), ("join", "joined")]
    _revoke(world, today, grant.id)
    assert [(o.kind, o.status) for o in world.tick(stack.settings)] == [("leave", "left")]

    outcomes = world.tick(stack.settings, at_vn_midnight(end))
    assert [(o.kind, o.status) for o in outcomes] == [("reinstate", "applied")]
    uid = user_id(admin, person)
    assert admin.get(f"users/{uid}")["enabled"] is True
    assert TST_OPERATOR not in app_groups(admin, uid)
    [unlock] = world.ledger("unlock", person.mail)
    assert unlock.detail["role_groups"] == []
