"""Tamper tests of the audit ledger: each kind of tampering is found at the exact row, on SQLite and
PostgreSQL.

The tampering is done as a rogue database administrator would (PostgreSQL: the superuser, after disabling
the append-only trigger), not through the application, which cannot change a row at all.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from bridge.adapters.store import ledger
from bridge.adapters.store.models import LedgerEntry
from bridge.adapters.store.session import make_engine, transaction

if TYPE_CHECKING:
    from conftest import Store

ROWS = 6


def _fill(store: Store) -> list[str]:
    hashes = []
    with transaction(store.factory) as session:
        for i in range(1, ROWS + 1):
            entry = ledger.append(
                session, actor=f"qt{i}@hanoi.vss.gov.vn", action="grant", target=f"person:p{i}@vss.gov.vn",
                outcome="allowed" if i % 2 else "refused", rule="R4-province-own-units",
                detail={"application": "TST", "ghi_chú": "Nguyễn Văn Ấn", "n": i},
            )  # fmt: skip
            hashes.append(entry.hash)
    return hashes


@contextmanager
def rogue(store: Store) -> Iterator[Connection]:
    """A privileged connection in one transaction, committed at the end of the tampering."""
    engine = make_engine(store.admin_url)
    try:
        with engine.begin() as conn:
            if store.kind == "postgresql":
                conn.execute(text("ALTER TABLE audit_ledger DISABLE TRIGGER USER"))
            yield conn
    finally:
        engine.dispose()


def _verify(store: Store, expect_head: str | None = None) -> ledger.Verification:
    with store.factory() as session:
        return ledger.verify(session, expect_head=expect_head)


def test_intact_chain_verifies(store: Store) -> None:
    hashes = _fill(store)
    result = _verify(store, expect_head=hashes[-1])
    assert (result.rows, result.head, result.broken) == (ROWS, hashes[-1], None)


def test_rows_chain_to_their_predecessor(store: Store) -> None:
    hashes = _fill(store)
    with store.factory() as session:
        prevs = [e.prev_hash for e in session.query(LedgerEntry).order_by(LedgerEntry.id)]
    assert prevs == [ledger.GENESIS, *hashes[:-1]]


def test_edited_row_is_found(store: Store) -> None:
    _fill(store)
    with rogue(store) as conn:
        conn.execute(text("UPDATE audit_ledger SET outcome = 'allowed' WHERE id = 4"))
    broken = _verify(store).broken
    assert broken is not None and broken.id == 4 and "edited" in broken.problem


def test_edited_detail_is_found(store: Store) -> None:
    _fill(store)
    detail = json.dumps({"application": "KT", "ghi_chú": "Nguyễn Văn Ấn", "n": 2}, ensure_ascii=False)
    with rogue(store) as conn:
        conn.execute(text("UPDATE audit_ledger SET detail = :d WHERE id = 2"), {"d": detail})
    broken = _verify(store).broken
    assert broken is not None and broken.id == 2


def test_deleted_row_is_found(store: Store) -> None:
    _fill(store)
    with rogue(store) as conn:
        conn.execute(text("DELETE FROM audit_ledger WHERE id = 3"))
    broken = _verify(store).broken
    assert broken is not None and broken.id == 3 and "missing" in broken.problem


def test_deleted_and_renumbered_row_is_found(store: Store) -> None:
    _fill(store)
    with rogue(store) as conn:
        conn.execute(text("DELETE FROM audit_ledger WHERE id = 3"))
        for i in range(4, ROWS + 1):
            conn.execute(text("UPDATE audit_ledger SET id = :new WHERE id = :old"), {"new": i - 1, "old": i})
    broken = _verify(store).broken
    assert broken is not None and broken.id == 3


def test_reordered_rows_are_found(store: Store) -> None:
    _fill(store)
    with rogue(store) as conn:
        for old, new in ((3, 100), (4, 3), (100, 4)):
            conn.execute(text("UPDATE audit_ledger SET id = :new WHERE id = :old"), {"new": new, "old": old})
    broken = _verify(store).broken
    assert broken is not None and broken.id == 3


def test_inserted_row_is_found_even_with_a_valid_hash(store: Store) -> None:
    hashes = _fill(store)
    with rogue(store) as conn:
        for i in range(ROWS, 2, -1):
            conn.execute(text("UPDATE audit_ledger SET id = :new WHERE id = :old"), {"new": i + 1, "old": i})
        forged = LedgerEntry(
            id=3, at=dt.datetime(2025, 10, 1, 1, 2, 3, tzinfo=dt.UTC), actor="ke.gian@vss.gov.vn",
            action="grant",
            target="person:ke.gian@vss.gov.vn", outcome="allowed", rule="R1-it-center-central", detail={},
            prev_hash=hashes[1],
        )  # fmt: skip
        forged.hash = ledger.row_hash(forged)
        conn.execute(
            text("INSERT INTO audit_ledger VALUES (:id, :at, :actor, :action, :target, :outcome, :rule, "
                 "'{}', :prev_hash, :hash)"),
            {c: getattr(forged, c) for c in ("id", "at", "actor", "action", "target", "outcome", "rule",
                                             "prev_hash", "hash")},
        )  # fmt: skip
    broken = _verify(store).broken
    assert broken is not None and broken.id == 3 and "inserted" in broken.problem


def test_cut_off_tail_is_found_against_the_published_head(store: Store) -> None:
    hashes = _fill(store)
    with rogue(store) as conn:
        conn.execute(text("DELETE FROM audit_ledger WHERE id >= 5"))
    result = _verify(store, expect_head=hashes[-1])
    assert result.broken is not None and result.broken.id == 5


def test_append_happens_in_the_callers_transaction(store: Store) -> None:
    with pytest.raises(RuntimeError), transaction(store.factory) as session:
        ledger.append(session, actor="a@vss.gov.vn", action="grant", target="t", outcome="allowed", rule="r")
        raise RuntimeError("the change failed")
    assert _verify(store).rows == 0


def test_canonical_json_is_nfc_sorted_and_compact() -> None:
    decomposed = "Nguye\u0302\u0303n"  # "Nguyễn" written with combining marks
    assert ledger.canonical_json({"b": 1, "a": decomposed}) == '{"a":"Nguyễn","b":1}'.encode()


def test_batch_append_continues_the_same_chain_and_an_edit_in_it_is_found(store: Store) -> None:
    hashes = _fill(store)
    at = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
    batch = [
        ledger.NewEntry(actor="bridge-sync", action="sync.ensure", target=f"user:p{i}@vss.gov.vn", outcome="allowed",
                        rule="sync-joiner", detail={"run": 1, "unit": "00012", "tên": "Trần Thị Bình"}, at=at)
        for i in range(4)
    ]  # fmt: skip
    with transaction(store.factory) as session:
        rows = ledger.append_many(session, batch)
        assert [r.id for r in rows] == [ROWS + 1, ROWS + 2, ROWS + 3, ROWS + 4]
        assert rows[0].prev_hash == hashes[-1]
        head = rows[-1].hash
    intact = _verify(store, expect_head=head)
    assert (intact.rows, intact.broken) == (ROWS + 4, None)
    with rogue(store) as conn:
        conn.execute(text("UPDATE audit_ledger SET target = 'user:x@vss.gov.vn' WHERE id = :id"), {"id": ROWS + 3})
    broken = _verify(store, expect_head=head).broken
    assert broken is not None and broken.id == ROWS + 3


def _row(session: Session, n: int) -> LedgerEntry:
    return ledger.append(
        session, actor="qt@hanoi.vss.gov.vn", action="grant", target=f"person:p{n}@vss.gov.vn", outcome="allowed",
        rule="R4-province-own-units", detail={"n": n},
    )  # fmt: skip


def test_a_rolled_back_savepoint_does_not_leave_its_row_as_the_tail(store: Store) -> None:
    """Appends in one transaction take the tail from the row appended last; a row whose savepoint was rolled
    back is gone, and the next append chains to the row before it, not to the vanished one."""
    with transaction(store.factory) as session:
        first = _row(session, 1)
        savepoint = session.begin_nested()
        vanished = _row(session, 2)
        savepoint.rollback()
        kept = _row(session, 3)
        with session.begin_nested():
            inner = _row(session, 4)
        last = _row(session, 5)
    assert (kept.id, kept.prev_hash) == (first.id + 1, first.hash)
    assert vanished.id == kept.id and vanished.hash != kept.hash
    assert (inner.prev_hash, last.prev_hash) == (kept.hash, inner.hash)
    assert _verify(store).broken is None
    with store.factory() as session:
        assert [r.detail["n"] for r in session.query(LedgerEntry).order_by(LedgerEntry.id)] == [1, 3, 4, 5]


def test_each_transaction_reads_the_tail_another_one_committed(store: Store) -> None:
    """The tail remembered by a session is only trusted inside the transaction that appended it."""
    with store.factory() as mine, store.factory() as theirs:
        with mine.begin():
            _row(mine, 1)
        with theirs.begin():
            other = _row(theirs, 2)
        with mine.begin():
            again = _row(mine, 3)
    assert again.prev_hash == other.hash
    assert _verify(store).broken is None
