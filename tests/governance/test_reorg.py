"""Reorganisations that carry grants, on the real store (SQLite and PostgreSQL) and the real realm's tokens.

A merger: branch 01009 (Sóc Sơn) closed on 30/09/2025 into 01010 (Đông Anh) — units.yaml as shipped. Its three
grants, its pending lock decision and its branch administrator are invisible to everyone on 01/10/2025
(``decide()`` refuses a closed unit). The IT Center shows the plan, asks for approval, two other central
administrators approve that plan hash, the plan is applied in one transaction with a ledger row per move, and
then Hà Nội's administrator (the successor's, logging in through the real realm) sees and revokes a moved grant.
A split: branch 01011 (test unit) closes into 01012 and 01013; each person's grants follow their directory unit.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import CONFIG, Store
from fastapi import FastAPI
from fastapi.testclient import TestClient
from gov_realm import Realm
from gov_world import DAY, HN, IT, PEOPLE, seed
from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.adapters.directory.lookup import DirectoryPerson, SnapshotDirectory
from bridge.adapters.store.lock_models import LockDecision
from bridge.adapters.store.models import Administrator, Grant, LedgerEntry
from bridge.adapters.store.session import transaction
from bridge.domain.lock_reasons import LockReason
from bridge.domain.policy import AdminRole
from bridge.domain.role_levels import load_catalogue
from bridge.domain.units import UnitTree, load_units
from bridge.errors import Conflict, InvalidInput
from bridge.interfaces.api.app import create_app
from bridge.services import approvals_in_scope, grants, persons, reorg
from bridge.services.context import GovContext, load_actor
from bridge.services.locks import decisions
from bridge.settings import SyncSettings
from tests.api_overrides import fix_day, serve_store

pytestmark = pytest.mark.integration
BEFORE = dt.date(2025, 9, 15)
SPLIT_UNITS = """
- code: '01011'
  name: Bảo hiểm xã hội cơ sở Mê Linh (trước chia tách)
  type: branch
  parent: '01000'
  valid_from: '2025-07-01'
  valid_to: '2025-09-30'
  successors: ['01012', '01013']
- code: '01012'
  name: Bảo hiểm xã hội cơ sở Mê Linh
  type: branch
  parent: '01000'
  valid_from: '2025-10-01'
  predecessor: '01011'
- code: '01013'
  name: Bảo hiểm xã hội cơ sở Tiền Phong
  type: branch
  parent: '01000'
  valid_from: '2025-10-01'
  predecessor: '01011'
"""
MERGED = ("hoa.nt@hanoi.vss.gov.vn", "khoa.dv@hanoi.vss.gov.vn", "lan.pt@hanoi.vss.gov.vn")
BRANCH_ADMIN = "quan.tri.socson@hanoi.vss.gov.vn"
SPLIT = {"mai.lt@hanoi.vss.gov.vn": "01012", "nam.hv@hanoi.vss.gov.vn": "01013"}
APPROVERS = ("it.hai@vss.gov.vn", "it.ba@vss.gov.vn")
LIMITS = SyncSettings()


def _people(moved: bool) -> SnapshotDirectory:
    """The directory before the reorganisation (people in 01009, 01011) or after (01010, 01012, 01013)."""
    extra = [DirectoryPerson(e, f"Nguyễn Văn {i}", "01010" if moved else "01009") for i, e in enumerate(MERGED)]
    extra.append(DirectoryPerson(BRANCH_ADMIN, "Trần Văn Quản", "01010" if moved else "01009"))
    extra += [DirectoryPerson(e, f"Lê Thị {u}", u if moved else "01011") for e, u in SPLIT.items()]
    extra += [DirectoryPerson(e, "Phạm Văn Duyệt", "00012") for e in APPROVERS]
    return SnapshotDirectory([*PEOPLE, *extra])


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """keycloak-config/ with the test's split units added to units.yaml."""
    folder = tmp_path_factory.mktemp("reorg-config")
    for name in ("applications.yaml", "realm.yaml"):
        shutil.copy(CONFIG / name, folder / name)
    (folder / "units.yaml").write_text((CONFIG / "units.yaml").read_text(encoding="utf-8") + SPLIT_UNITS, "utf-8")
    return folder


@pytest.fixture(scope="module")
def tree(config: Path) -> UnitTree:
    return load_units(config / "units.yaml")


@pytest.fixture()
def world(store: Store, tree: UnitTree, config: Path) -> Store:
    """The seeded world, then (on 15/09/2025) grants, a pending lock and a branch administrator in 01009 and
    grants in 01011."""
    catalogue = load_catalogue(config / "applications.yaml")
    with transaction(store.factory) as session:
        seed(session, units=tree, catalogue=catalogue)
        ctx = GovContext(tree, catalogue, _people(moved=False), BEFORE, "00012")
        it, hn = load_actor(session, email=IT), load_actor(session, email=HN)
        for email in APPROVERS:  # IT Center administrators are appointed outside the bridge (no one escalates)
            session.add(Administrator(email=email, role=AdminRole.IT_CENTER_ADMIN.value, unit_code="00012",
                                      appointed_by="system:test", appointed_at=dt.datetime.now(dt.UTC)))  # fmt: skip
        persons.appoint_administrator(session, ctx=ctx, actor=it, email=BRANCH_ADMIN, role=AdminRole.PROVINCE_ADMIN,
                                      unit_code="01009")  # fmt: skip
        for email, app in zip(MERGED, ("TST", "TNHS", "DVC"), strict=True):
            grants.request_grant(session, ctx=ctx, actor=hn, email=email, application=app, role_group="operator")
        decisions.request_lock(session, ctx=ctx, actor=hn, email=MERGED[0], reason=LockReason.TERMINATED,
                               decision_number="12/QĐ-BHXH", decision_date=BEFORE,
                               effective_date=dt.date(2025, 10, 20))  # fmt: skip
        for email in SPLIT:
            grants.request_grant(session, ctx=ctx, actor=hn, email=email, application="TST", role_group="operator")
    return store


@pytest.fixture()
def api(world: Store, config: Path, realm: Realm) -> Iterator[FastAPI]:
    app = create_app(factory=world.factory, directory=_people(moved=True), validator=realm.validator(),
                     config_dir=config)  # fmt: skip
    fix_day(app, DAY)
    serve_store(app, world.factory)
    yield app


def _ctx(tree: UnitTree, config: Path) -> GovContext:
    return GovContext(tree, load_catalogue(config / "applications.yaml"), _people(moved=True), DAY, "00012")


def _approve_twice(session: Session, ctx: GovContext, approval_id: int) -> None:
    for email in APPROVERS:
        approvals_in_scope.decide_in_scope(session, ctx=ctx, actor=load_actor(session, email=email),
                                           approval_id=approval_id, approve=True)  # fmt: skip


def _bearer(realm: Realm, email: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {realm.token(email)}"}


def test_merger_moves_three_grants_a_lock_and_an_administrator(
    api: FastAPI, world: Store, realm: Realm, tree: UnitTree, config: Path
) -> None:
    """Must show: a merger moving 3 grants, ledgered and shown as a plan first; then the successor's
    administrator sees and revokes a moved grant."""
    it, hn = _bearer(realm, IT), _bearer(realm, HN)
    with TestClient(api) as client:
        before = client.get("/grants", params={"limit": 1000}, headers=hn).json()
        assert not {g["email"] for g in before} & set(MERGED)  # a closed unit's grants: nobody sees them
        hidden = _grant_ids(world, MERGED[0])[0]
        assert client.post(f"/grants/{hidden}/revoke", headers=hn).status_code == 404

        plan = client.get("/reorgs/01009/plan", headers=it)
        assert plan.status_code == 200, plan.text
        shown = plan.json()
        print("\nmerger plan:", {k: shown[k] for k in ("closed", "successors", "plan_hash", "by_unit", "valve")})
        for move in shown["moves"]:
            print("  ", move)
        kinds = sorted(m["kind"] for m in shown["moves"])
        assert kinds == ["administrator", "grant", "grant", "grant", "lock"]
        assert {m["to"] for m in shown["moves"]} == {"01010"} and shown["problems"] == []
        assert client.get("/reorgs/01009/plan", headers=hn).status_code == 403  # a province admin may not plan
        assert client.post("/reorgs/01009/apply", headers=it).status_code == 409  # not approved yet

        asked = client.post("/reorgs/01009/request", headers=it)
        assert asked.status_code == 201, asked.text
        approval_id = asked.json()["approval"]["id"]
        assert asked.json()["plan_hash"] == shown["plan_hash"]
        with transaction(world.factory) as session:
            _approve_twice(session, _ctx(tree, config), approval_id)
        applied = client.post("/reorgs/01009/apply", headers=it)
        assert applied.status_code == 200, applied.text

        after = {g["email"]: g for g in client.get("/grants", params={"limit": 1000}, headers=hn).json()}
        assert set(MERGED) <= set(after) and {after[e]["unit_code"] for e in MERGED} == {"01010"}
        revoked = client.post(f"/grants/{after[MERGED[1]]['id']}/revoke", headers=hn)
        assert revoked.status_code == 200, revoked.text
        assert revoked.json()["revoked_by"] == HN
    with world.factory() as session:
        lock = session.scalars(select(LockDecision).where(LockDecision.email == MERGED[0])).one()
        assert lock.unit_code == "01010" and lock.status == "scheduled"
        assert session.get(Administrator, BRANCH_ADMIN).unit_code == "01010"  # type: ignore[union-attr]
        rows = session.scalars(select(LedgerEntry).where(LedgerEntry.action.like("reorg.%"))).all()
        actions = [r.action for r in rows]
        print("ledger:", actions)
        assert actions.count("reorg.move_grant") == 3 and actions.count("reorg.move_lock") == 1
        assert actions[0] == "reorg.plan" and actions[-1] == "reorg.apply"
        assert {r.detail["plan_hash"] for r in rows} == {shown["plan_hash"]}


def _grant_ids(store: Store, email: str) -> list[int]:
    with store.factory() as session:
        return list(session.scalars(select(Grant.id).where(Grant.email == email)))


def test_split_moves_people_by_their_directory_unit(world: Store, tree: UnitTree, config: Path) -> None:
    """Must show: a split moving people by their directory unit, ledgered and shown as a plan first."""
    ctx = _ctx(tree, config)
    with transaction(world.factory) as session:
        it = load_actor(session, email=IT)
        shown = reorg.show_plan(session, ctx=ctx, actor=it, closed="01011", limits=LIMITS)
        print("\nsplit plan:", shown.plan.successors, shown.plan.by_unit, shown.plan_hash)
        assert shown.plan.split and shown.plan.problems == ()
        assert {m.email: m.to_unit for m in shown.plan.moves} == SPLIT
        with pytest.raises(Conflict):
            reorg.apply_reorg(session, ctx=ctx, actor=it, closed="01011", limits=LIMITS)
    with transaction(world.factory) as session:
        it = load_actor(session, email=IT)
        asked = reorg.request_reorg(session, ctx=ctx, actor=it, closed="01011", limits=LIMITS)
        assert asked.approval is not None
        _approve_twice(session, ctx, asked.approval.id)
        reorg.apply_reorg(session, ctx=ctx, actor=it, closed="01011", limits=LIMITS)
    with world.factory() as session:
        units = {g.email: g.unit_code for g in session.scalars(select(Grant).where(Grant.email.in_(list(SPLIT))))}
        assert units == SPLIT
        moved = session.scalars(select(LedgerEntry).where(LedgerEntry.action == "reorg.move_grant")).all()
        assert {r.detail["email"]: r.detail["to"] for r in moved} == SPLIT


def test_a_person_of_a_split_outside_every_successor_is_a_problem(world: Store, tree: UnitTree, config: Path) -> None:
    people: list[Any] = [p for p in _people(moved=True).in_units(["01012", "01013"])]
    wrong = SnapshotDirectory([*PEOPLE, *(DirectoryPerson(p.email, p.full_name, "79001") for p in people)])
    ctx = GovContext(tree, load_catalogue(config / "applications.yaml"), wrong, DAY, "00012")
    with transaction(world.factory) as session:
        it = load_actor(session, email=IT)
        shown = reorg.show_plan(session, ctx=ctx, actor=it, closed="01011", limits=LIMITS)
        assert len(shown.plan.problems) == 2 and shown.plan.moves == ()
        with pytest.raises(InvalidInput):
            reorg.request_reorg(session, ctx=ctx, actor=it, closed="01011", limits=LIMITS)


def test_a_changed_plan_is_not_covered_by_the_old_approval(world: Store, tree: UnitTree, config: Path) -> None:
    ctx = _ctx(tree, config)
    with transaction(world.factory) as session:
        it, hn = load_actor(session, email=IT), load_actor(session, email=HN)
        asked = reorg.request_reorg(session, ctx=ctx, actor=it, closed="01011", limits=LIMITS)
        assert asked.approval is not None
        _approve_twice(session, ctx, asked.approval.id)
        before_ctx = GovContext(tree, ctx.catalogue, _people(moved=False), BEFORE, "00012")
        grants.request_grant(session, ctx=before_ctx, actor=hn, email=next(iter(SPLIT)), application="KT",
                             role_group="accountant")  # fmt: skip
    with transaction(world.factory) as session, pytest.raises(Conflict):
        reorg.apply_reorg(session, ctx=ctx, actor=load_actor(session, email=IT), closed="01011", limits=LIMITS)


def test_cli_shows_the_plan_first_then_requests_and_applies(
    world: Store, tree: UnitTree, config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``bridge reorg plan|request|apply`` on the store, the directory and units.yaml of the settings (today)."""
    from typer.testing import CliRunner

    from bridge.interfaces.cli.reorg import reorg_app
    from bridge.settings import get_settings

    snapshot = tmp_path / "directory.json"
    _people(moved=True).dump(snapshot)
    monkeypatch.setenv("BRIDGE_GOVERNANCE__DIRECTORY_SNAPSHOT", str(snapshot))
    monkeypatch.setenv("BRIDGE_KEYCLOAK__CONFIG_DIR", str(config))
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        shown = runner.invoke(reorg_app, ["plan", "01009", "--as", IT, "--url", world.url])
        assert shown.exit_code == 0, shown.output
        print("\n" + shown.output)
        assert shown.output.count("01010") >= 6 and "lan.pt@hanoi.vss.gov.vn" in shown.output
        refused = runner.invoke(reorg_app, ["plan", "01009", "--as", HN, "--url", world.url])
        assert refused.exit_code == 2
        asked = runner.invoke(reorg_app, ["request", "01009", "--as", IT, "--url", world.url])
        assert asked.exit_code == 0, asked.output
        with transaction(world.factory) as session:
            approval_id = (
                session.scalars(
                    select(LedgerEntry).where(LedgerEntry.action == "reorg.plan").order_by(LedgerEntry.id.desc())
                )
                .first()
                .detail["approval_id"]
            )  # type: ignore[union-attr]
            today_ctx = GovContext(tree, load_catalogue(config / "applications.yaml"), _people(moved=True),
                                   dt.date.today(), "00012")  # fmt: skip
            _approve_twice(session, today_ctx, approval_id)
        applied = runner.invoke(reorg_app, ["apply", "01009", "--as", IT, "--url", world.url])
        assert applied.exit_code == 0, applied.output
    finally:
        get_settings.cache_clear()
    with world.factory() as session:
        moved = session.scalars(select(Grant.unit_code).where(Grant.email.in_(list(MERGED)))).all()
        assert set(moved) == {"01010"} and len(moved) == 3
