"""The console watcher judges a burst in batches (one store transaction each) and still judges every event once.

A fake Keycloak serves admin events and accounts; the store is SQLite and PostgreSQL. A permanent error in the
middle of a batch rolls the batch back; it is judged again event by event in savepoints, the failing event
ledgered ``W4-not-judged`` and passed, the others judged as usual.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bridge.adapters.directory.lookup import DirectoryPerson, SnapshotDirectory
from bridge.adapters.store import ledger
from bridge.adapters.store.models import Administrator, LedgerEntry
from bridge.clock import today_vn
from bridge.domain.role_levels import load_catalogue
from bridge.domain.units import load_units
from bridge.errors import PermanentError
from bridge.services.console_watcher import ConsoleWatcher
from bridge.services.context import GovContext
from bridge.settings import PROJECT_ROOT
from tests.ops.test_leases import factory  # noqa: F401  (the SQLite / PostgreSQL store fixture)

CONFIG = PROJECT_ROOT / "keycloak-config"
ADMIN = "quan.tri@hanoi.vss.gov.vn"
T0 = 1_800_000_000_000


class FakeKeycloak:
    """Admin events (oldest first, as ``direction=asc`` asks) and accounts; ``bad`` cannot be read."""

    realm = "bhxh"

    def __init__(self, events: list[dict[str, Any]], accounts: dict[str, str]) -> None:
        self.events, self.accounts = events, accounts
        self.writes: list[str] = []

    def get(self, path: str, **params: Any) -> Any:
        if path == "":
            return {"id": "realm-id"}
        if path == "admin-events":
            lower, first, size = int(params["dateFrom"]), int(params["first"]), int(params["max"])
            return [e for e in self.events if e["time"] >= lower][first : first + size]
        user_id = path.removeprefix("users/")
        if user_id == "bad":
            raise PermanentError("GET users/bad: 400 unreadable account")
        return {"id": user_id, "email": self.accounts[user_id], "attributes": {"unit_code": ["01000"]}}

    def put(self, path: str, body: Any) -> None:
        self.writes.append(f"PUT {path}")

    def post(self, path: str, body: Any) -> None:
        self.writes.append(f"POST {path}")

    def delete(self, path: str, body: Any = None) -> None:
        self.writes.append(f"DELETE {path}")


def lock(event_id: str, user_id: str, at: int, *, by: str = "admin-1") -> dict[str, Any]:
    return {
        "id": event_id, "time": at, "resourceType": "USER", "operationType": "UPDATE",
        "resourcePath": f"users/{user_id}", "representation": json.dumps({"enabled": False}),
        "authDetails": {"realmId": "bhxh", "userId": by},
    }  # fmt: skip


def test_a_burst_is_judged_in_batches_exactly_once_and_a_permanent_error_is_ledgered_and_passed(
    factory: sessionmaker[Session],  # noqa: F811
) -> None:
    sessions = factory
    with sessions() as session, session.begin():
        session.add(
            Administrator(
                email=ADMIN, role="province_admin", unit_code="01000", appointed_by="it.admin@vss.gov.vn",
                appointed_at=dt.datetime.now(dt.UTC),
            )
        )  # fmt: skip
    staff = {f"u{i}": f"nhan.vien{i}@hanoi.vss.gov.vn" for i in range(6)}
    events = [lock(f"e{i}", f"u{i}", T0 + 10 * i) for i in range(6)]
    events.insert(3, lock("e-bad", "bad", T0 + 25))
    events.insert(5, lock("e-own", "u0", T0 + 33, by="bridge-service-account"))  # the bridge's own: skipped
    keycloak = FakeKeycloak(events, {"admin-1": ADMIN, **staff})
    people = [DirectoryPerson(email, email.split("@")[0], "01000") for email in (ADMIN, *staff.values())]
    ctx = GovContext(
        load_units(CONFIG / "units.yaml"), load_catalogue(CONFIG / "applications.yaml"), SnapshotDirectory(people),
        on_date=today_vn(), it_center_unit="00012",
    )  # fmt: skip

    def watcher() -> ConsoleWatcher:
        return ConsoleWatcher(
            admin=keycloak,  # type: ignore[arg-type]
            sessions=sessions, ctx=ctx, since_ms=T0 - 1, ignore_user_ids=frozenset({"bridge-service-account"}),
            batch_size=2,
        )  # fmt: skip

    first = watcher()
    verdicts = first.poll()
    assert [(v.change.event_id, v.decision.rule) for v in verdicts] == [
        ("e0", "R4-province-own-units"),
        ("e1", "R4-province-own-units"),
        ("e2", "R4-province-own-units"),
        ("e-bad", "W4-not-judged"),
        ("e3", "R4-province-own-units"),
        ("e4", "R4-province-own-units"),
        ("e5", "R4-province-own-units"),
    ]
    assert keycloak.writes == []  # all in scope: nothing reverted

    def rows() -> list[tuple[str, str, str]]:
        with sessions() as session:
            found = session.scalars(select(LedgerEntry).order_by(LedgerEntry.id)).all()
            return [(r.action, r.rule, str(r.detail.get("event_id"))) for r in found]

    judged = rows()
    assert [event for _, _, event in judged] == ["e0", "e1", "e2", "e-bad", "e3", "e4", "e5"]
    assert judged[3][:2] == ("console:lock", "W4-not-judged")
    # nothing judged twice: by the same watcher, nor by a new one reading the cursor from the store
    assert first.poll() == []
    assert watcher().poll() == []
    assert rows() == judged
    with sessions() as session:
        assert ledger.verify(session).broken is None
