"""The review's store side on SQLite and PostgreSQL: locks from the ledger and holds, logins, grants."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from gov_world import PERSON_A, PERSON_B, STAFF

from bridge.adapters.store import ledger
from bridge.adapters.store.session import transaction
from bridge.services.holds import add_hold
from bridge.services.reports.logins import ingest_login_events
from bridge.services.reports.review import store_facts

if TYPE_CHECKING:
    from conftest import SeededStore

TODAY = dt.date(2026, 11, 23)


def test_locks_holds_logins_and_grants_as_the_review_reads_them(seeded_store: SeededStore) -> None:
    login = {"id": "e1", "type": "LOGIN", "time": 1_795_000_000_000, "userId": "u-a", "sessionId": "s1",
             "clientId": "tst", "ipAddress": "10.0.0.1", "details": {"username": PERSON_A.upper()}}  # fmt: skip
    with seeded_store.clone() as store:
        with transaction(store.factory) as s:
            lock = {"decision_id": 7, "reason_code": "maternity", "effective_date": "2026-10-01",
                    "end_date": "2027-02-01", "unit_code": "01002"}  # fmt: skip
            ledger.append(s, actor="qt@vss.gov.vn", action="lock", target=f"person:{PERSON_A}", outcome="allowed",
                          rule="L1-effective-date", detail=lock)  # fmt: skip
            future = {**lock, "decision_id": 8, "effective_date": "2027-01-05"}
            ledger.append(s, actor="qt@vss.gov.vn", action="lock", target=f"person:{STAFF}", outcome="allowed",
                          rule="L1-effective-date", detail=future)  # fmt: skip
            add_hold(s, email=PERSON_B, reason="unpaid_leave", effective_from=dt.date(2026, 11, 1), source="t")
            assert ingest_login_events(s, events=[login, login, {**login, "id": "e2", "type": "LOGOUT"}]) == 1
        with store.factory() as s:
            facts = store_facts(s, today=TODAY)
    assert facts.locked == {PERSON_A: "maternity", PERSON_B: "unpaid_leave"}
    assert set(facts.last_login) == {"u-a"}
    assert (PERSON_A, "TST", "operator") in facts.grants and facts.grant_units[PERSON_A] == "01002"
