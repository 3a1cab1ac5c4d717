"""The full Phụ lục 01 on the real servers (Keycloak 26 federated from slapd): one file mixing "Khóa", "Cấp" and
"Mở khóa" rows. With one row out of the administrator's scope nothing is applied — Keycloak is the same after
the worker runs; without it, the worker locks the first person, puts the second into the application's role
group, and brings the third back from maternity leave on the early return date the file gives.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from bridge.adapters.keycloak.admin import KeycloakAdmin
from bridge.adapters.store.lock_models import LockDecision
from bridge.adapters.store.models import Grant
from bridge.adapters.store.session import transaction
from bridge.domain.catalogue import Application
from bridge.domain.lock_reasons import LockReason
from bridge.services.context import load_actor
from bridge.services.locks import decisions
from bridge.services.locks.intake import ImportRejected
from bridge.testbed.directory_gen import Person
from bridge.testbed.stack import Stack
from tests.integration.test_foundation import person_in, user_id
from tests.integration.test_locks import HN_ADMIN, World, app_groups, at_vn_midnight, make_world
from tests.unit.test_lock_import import csv_bytes, row

pytestmark = pytest.mark.integration


@pytest.fixture()
def world(stack: Stack, apps: tuple[Application, ...], tmp_path: Path, today: dt.date) -> World:
    return make_world(stack, apps, f"sqlite:///{tmp_path / 'bridge.sqlite3'}", today)


def _khoa(person: Person, today: dt.date) -> list[str]:
    return row(email=person.mail, reason="nghỉ hưu", effective=f"{today:%d/%m/%Y}", end="", number="51/QĐ-BHXH")


def _cap(person: Person, today: dt.date) -> list[str]:
    cells = row(email=person.mail, request="Cấp", reason="Nhân sự mới", effective=f"{today:%d/%m/%Y}", end="",
                number="52/QĐ-BHXH")  # fmt: skip
    cells[5], cells[6] = "TST", "operator"
    return cells


def _mo_khoa(person: Person, back: dt.date) -> list[str]:
    return row(email=person.mail, request="Mở khóa", reason="Đi làm sớm", effective=f"{back:%d/%m/%Y}", end="",
               number="53/QĐ-BHXH")  # fmt: skip


def _import(world: World, today: dt.date, data: bytes) -> decisions.ImportResult:
    with transaction(world.factory) as session:
        return decisions.import_phu_luc(session, ctx=world.ctx(today), actor=load_actor(session, email=HN_ADMIN),
                                        data=data, filename="phu-luc-01.csv")  # fmt: skip


def _keycloak(admin: KeycloakAdmin, *uids: str) -> list[tuple[bool, list[str]]]:
    return [(bool(admin.get(f"users/{uid}")["enabled"]), app_groups(admin, uid)) for uid in uids]


def test_a_mixed_phu_luc_01_is_applied_all_or_nothing_on_keycloak(
    stack: Stack, admin: KeycloakAdmin, world: World, today: dt.date
) -> None:
    retiring, joining, returning = (person_in(stack, "01", i) for i in (41, 42, 43))
    foreign = person_in(stack, "79", 5)
    uids = [user_id(admin, p) for p in (retiring, joining, returning)]
    back = today + dt.timedelta(days=3)
    maternity = world.lock(returning.mail, LockReason.MATERNITY, on=today, effective=today,
                           end=today + dt.timedelta(days=120))  # fmt: skip
    world.tick(stack.settings)
    before = _keycloak(admin, *uids)
    assert [enabled for enabled, _ in before] == [True, True, False]
    assert "/apps/TST/operator" not in before[1][1]

    rows = [_khoa(retiring, today), _cap(joining, today), _mo_khoa(returning, back)]
    with pytest.raises(ImportRejected) as rejected:
        _import(world, today, csv_bytes(*rows, _khoa(foreign, today)))
    assert [(p.row, p.column) for p in rejected.value.problems] == [(5, "Thư điện tử công vụ")]
    assert world.tick(stack.settings) == [], "the rejected file left no job for the worker"
    assert _keycloak(admin, *uids) == before
    with world.factory() as session:
        assert session.scalars(select(Grant)).all() == []
        assert [d.id for d in session.scalars(select(LockDecision))] == [maternity.id]
        assert session.get(LockDecision, maternity.id).end_date == today + dt.timedelta(days=120)  # type: ignore[union-attr]

    made = _import(world, today, csv_bytes(*rows))
    assert (len(made.locks), len(made.grants), [d.id for d in made.early_endings]) == (1, 1, [maternity.id])
    outcomes = world.tick(stack.settings)
    assert sorted(o.kind for o in outcomes) == ["apply", "join"], outcomes
    after = _keycloak(admin, *uids)
    assert after[0][0] is False, "the Khóa row locked the retiring person"
    assert after[1] == (True, [*before[1][1], "/apps/TST/operator"]), "the Cấp row granted TST/operator"
    assert after[2][0] is False, "still on leave until the early return date"

    assert world.tick(stack.settings, at_vn_midnight(back) - dt.timedelta(seconds=1)) == []
    returned = world.tick(stack.settings, at_vn_midnight(back))
    assert [(o.kind, o.status) for o in returned] == [("reinstate", "applied")]
    assert admin.get(f"users/{uids[2]}")["enabled"] is True, "the Mở khóa row brought the person back early"
    [early] = world.ledger("lock.return_early", returning.mail)
    assert early.detail["source"].startswith("import:") and early.detail["end_date"] == back.isoformat()
