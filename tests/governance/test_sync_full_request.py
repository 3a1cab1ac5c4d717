"""Issue 16 in the store, on SQLite and on PostgreSQL as the restricted application role: the applied record's
bulk writes and repair, the watcher's update of it, and a full reconcile asked on demand by the IT Center."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pytest
from conftest import Store
from fastapi.testclient import TestClient
from gov_world import DAY, DIRECTORY, HN, IT, seed
from sqlalchemy import select

from bridge.adapters.directory.ldap import DirectoryRead
from bridge.adapters.store.models import LedgerEntry
from bridge.adapters.store.session import transaction
from bridge.adapters.store.sync_models import SyncState
from bridge.domain.role_levels import Catalogue
from bridge.domain.sync.planner import Operation, OpKind, Reason
from bridge.domain.sync.record import Recorded
from bridge.domain.units import UnitTree
from bridge.services.context import GovContext, Refused, load_actor
from bridge.services.sync import record
from bridge.services.sync.full_request import FULL_REQUESTED, request_full_run
from bridge.services.sync.run import _advance_state, _state, choose_mode
from tests.api_overrides import serve_store

if TYPE_CHECKING:
    from conftest import Seeded
    from gov_realm import Realm

A, B, C = "a@hanoi.vss.gov.vn", "b@hanoi.vss.gov.vn", "c@hanoi.vss.gov.vn"
UNIT = "/units/01000/01001"


def test_record_is_written_with_operations_repaired_and_updated_by_console_changes(store: Store) -> None:
    join_a = Operation(OpKind.ENSURE, Reason.JOINER, A, "01001", group_path=UNIT)
    join_b = Operation(OpKind.ENSURE, Reason.JOINER, B, "01001", group_path=UNIT)
    with transaction(store.factory) as session:
        record.record_applied(session, [(join_a, "u-a"), (join_b, "u-b")], {A: "ha", B: "hb"})
        record.save_group_ids(session, {UNIT: "g1", "/units/01000": "g0"})
    with transaction(store.factory) as session:
        assert record.load(session) == {
            A: Recorded(A, "u-a", UNIT, True, (), "ha"),
            B: Recorded(B, "u-b", UNIT, True, (), "hb"),
        }
        assert record.group_ids(session) == {UNIT: "g1", "/units/01000": "g0"}
        # the watcher carries accepted console changes: a lock, a role group, a unit group left
        assert record.accept_console_change(session, user_id="u-a", group_path=None, joined=None, enabled=False,
                                            unit_root="/units")  # fmt: skip
        assert record.accept_console_change(session, user_id="u-a", group_path="/apps/TST/operator", joined=True,
                                            enabled=None, unit_root="/units")  # fmt: skip
        assert not record.accept_console_change(session, user_id="u-unknown", group_path=None, joined=None,
                                                enabled=False, unit_root="/units")  # fmt: skip
    with transaction(store.factory) as session:
        assert record.load(session, [A])[A] == Recorded(A, "u-a", UNIT, False, ("/apps/TST/operator",), "ha")
        # a full run's repair: B corrected, A kept, C new, and the row of someone no longer managed deleted
        repaired = {
            A: Recorded(A, "u-a", UNIT, False, ("/apps/TST/operator",), "ha"),
            C: Recorded(C, "u-c", UNIT, True, (), "hc"),
        }
        assert record.replace_all(session, repaired) == (1, 1)
    with transaction(store.factory) as session:
        assert record.load(session) == repaired
        assert record.role_groups(session) == {A: ("/apps/TST/operator",)}


def test_full_reconcile_on_demand_by_the_it_center_only(store: Store, units: UnitTree, catalogue: Catalogue) -> None:
    with transaction(store.factory) as session:
        seed(session, units=units, catalogue=catalogue)
    ctx = GovContext(units, catalogue, DIRECTORY, DAY)
    today = dt.date(2026, 11, 26)
    state = {"high_water": "20261126000000Z", "last_full_day": today.isoformat(), "runs_since_full": "1"}
    with transaction(store.factory) as session:
        for key, value in state.items():
            session.add(SyncState(key=key, value=value))
    with transaction(store.factory) as session:
        assert choose_mode(_state(session), day=today, full=False, every=24) == "incremental"
        with pytest.raises(Refused) as refused:
            request_full_run(session, ctx=ctx, actor=load_actor(session, email=HN), realm="bhxh")
        assert refused.value.status == 403
    with transaction(store.factory) as session:
        asked = request_full_run(session, ctx=ctx, actor=load_actor(session, email=IT), realm="bhxh")
        assert asked.endswith(IT)
    with transaction(store.factory) as session:
        current = _state(session)
        assert current[FULL_REQUESTED] == asked
        assert choose_mode(current, day=today, full=False, every=24) == "full"
        rows = session.scalars(select(LedgerEntry).where(LedgerEntry.action == "sync.full_requested")).all()
        assert [(r.actor, r.outcome) for r in rows] == [(IT, "allowed")]
        _advance_state(session, current, mode="full", day=today, read=DirectoryRead(high_water="20261126010000Z"))
    with transaction(store.factory) as session:
        assert choose_mode(_state(session), day=today, full=False, every=24) == "incremental"


def test_full_run_route_answers_the_it_center_and_refuses_a_province(seeded: Seeded, realm: Realm) -> None:
    with seeded.clone() as cloned, TestClient(seeded.app) as client:
        serve_store(seeded.app, cloned.factory)
        refused = client.post("/sync/full-run", headers=realm.headers(HN))
        assert refused.status_code == 403, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        asked = client.post("/sync/full-run", headers=realm.headers(IT))
        assert asked.status_code == 202, asked.text
        assert asked.json()["requested"].endswith(IT)
        with transaction(cloned.factory) as session:
            assert _state(session)[FULL_REQUESTED] == asked.json()["requested"]
            rows = session.scalars(select(LedgerEntry).where(LedgerEntry.target.like("realm:%"))).all()
            assert [(r.actor, r.outcome) for r in rows] == [(HN, "refused"), (IT, "allowed")]
