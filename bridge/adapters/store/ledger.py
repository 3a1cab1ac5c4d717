"""The append-only, hash-chained audit ledger (nhật ký kiểm toán): proof of every change and every refusal.

Each row holds the previous row's hash, and its own hash is sha256 over the canonical JSON of its fields
plus that previous hash. A row is appended in the caller's transaction, so a change and its record commit or
vanish together. Editing, deleting, reordering or inserting rows breaks the chain at a row that
:func:`verify` names. Appends are serialised (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: a transaction-scoped
advisory lock) so two writers never fork the chain; the primary key (``id`` = predecessor's id + 1) refuses
a fork even if they tried. Once a transaction has appended, it holds that lock until it ends, so its next append
takes the tail from the row it appended last instead of asking the database again (the console watcher appends
hundreds of rows per transaction).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session

from bridge.adapters.store.models import LedgerEntry

GENESIS = "0" * 64
#: Arbitrary constant naming the advisory lock that serialises ledger appends on PostgreSQL.
_PG_LOCK_KEY = 0x4C454447
Outcome = Literal["allowed", "refused"]
#: ``session.info`` key: (the transaction that appended last, the row it appended).
_TAIL = "ledger_tail"


def _nfc(value: Any) -> Any:
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, dict):
        return {_nfc(k): _nfc(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_nfc(v) for v in value]
    return value


def canonical_json(value: Any) -> bytes:
    """Canonical JSON (NFC strings, sorted keys, no spaces, UTF-8): the bytes every hash is taken over."""
    return json.dumps(_nfc(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sha256_hex(value: Any) -> str:
    """sha256 of the canonical JSON of ``value``."""
    return hashlib.sha256(canonical_json(value)).hexdigest()


def _utc_text(moment: dt.datetime) -> str:
    # SQLite hands back naive datetimes; everything stored here is UTC.
    aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return aware.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def row_hash(entry: LedgerEntry) -> str:
    """The hash a row must carry, computed from its fields and its ``prev_hash``."""
    fields = {
        "id": entry.id,
        "at": _utc_text(entry.at),
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
        "outcome": entry.outcome,
        "rule": entry.rule,
        "detail": entry.detail,
    }
    return hashlib.sha256(canonical_json(fields) + entry.prev_hash.encode("ascii")).hexdigest()


def append(
    session: Session,
    *,
    actor: str,
    action: str,
    target: str,
    outcome: Outcome,
    rule: str,
    detail: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> LedgerEntry:
    """Append one row in the session's transaction and return it (flushed, not committed)."""
    tail = _locked_tail(session)
    moment = (at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    entry = LedgerEntry(
        id=(tail[0] + 1) if tail else 1,
        at=moment,
        actor=_nfc(actor),
        action=action,
        target=_nfc(target),
        outcome=outcome,
        rule=rule,
        detail=_nfc(detail or {}),
        prev_hash=tail[1] if tail else GENESIS,
    )
    entry.hash = row_hash(entry)
    session.add(entry)
    session.flush()
    session.info[_TAIL] = (session.get_transaction(), entry)
    return entry


def _locked_tail(session: Session) -> tuple[int, str] | None:
    """Take the append lock and return the chain's last row (id, hash), or None for an empty ledger.

    The row this transaction appended last is the tail while the transaction lasts (it holds the lock), unless
    the savepoint that added it was rolled back: SQLAlchemy then expunges the row, and the database is asked.
    """
    cached = session.info.get(_TAIL)
    if cached is not None:
        transaction, entry = cached
        if transaction is session.get_transaction() and inspect(entry).persistent:
            return int(entry.id), str(entry.hash)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    row = session.execute(select(LedgerEntry.id, LedgerEntry.hash).order_by(LedgerEntry.id.desc()).limit(1)).first()
    return (int(row.id), str(row.hash)) if row else None


@dataclass(frozen=True)
class NewEntry:
    """One row to append with :func:`append_many`."""

    actor: str
    action: str
    target: str
    outcome: Outcome
    rule: str
    detail: dict[str, Any]
    at: dt.datetime


def append_many(session: Session, entries: Sequence[NewEntry]) -> list[LedgerEntry]:
    """Append rows in order in the session's transaction: one look at the chain's tail and one flush for the
    batch (a sync run records thousands of operations), the same chain as row-by-row :func:`append`."""
    if not entries:
        return []
    tail = _locked_tail(session)
    next_id, prev = (tail[0] + 1, tail[1]) if tail else (1, GENESIS)
    rows: list[LedgerEntry] = []
    for item in entries:
        entry = LedgerEntry(
            id=next_id,
            at=item.at.astimezone(dt.UTC),
            actor=_nfc(item.actor),
            action=item.action,
            target=_nfc(item.target),
            outcome=item.outcome,
            rule=item.rule,
            detail=_nfc(item.detail),
            prev_hash=prev,
        )
        entry.hash = row_hash(entry)
        rows.append(entry)
        next_id, prev = next_id + 1, entry.hash
    session.add_all(rows)
    session.flush()
    session.info[_TAIL] = (session.get_transaction(), rows[-1])
    return rows


@dataclass(frozen=True)
class Break:
    """The first row where the chain does not hold, and what is wrong there."""

    id: int
    problem: str


def find_break(rows: Iterable[LedgerEntry]) -> Break | None:
    """The first broken row of ``rows`` (in id order), or None when the chain is whole. Pure."""
    expected_id, expected_prev = 1, GENESIS
    seen: dict[str, int] = {GENESIS: 0}
    for row in rows:
        if row.id != expected_id:
            return Break(expected_id, f"row {expected_id} is missing (next row is {row.id})")
        if row.prev_hash != expected_prev:
            if row.prev_hash in seen:
                inserted = seen[row.prev_hash] + 1
                return Break(inserted, f"row {inserted} was inserted: row {row.id} follows row {inserted - 1}")
            return Break(row.id, "does not follow the previous row (reordered, or a row removed before it)")
        if row_hash(row) != row.hash:
            return Break(row.id, "contents do not match the row's hash (edited)")
        seen[row.hash] = row.id
        expected_id, expected_prev = row.id + 1, row.hash
    return None


def iter_rows(session: Session, *, batch: int = 1000) -> Iterator[LedgerEntry]:
    """Every row in id order, read in batches."""
    last = 0
    while True:
        rows = session.scalars(
            select(LedgerEntry).where(LedgerEntry.id > last).order_by(LedgerEntry.id).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].id
        session.expunge_all()


@dataclass(frozen=True)
class Verification:
    """Result of :func:`verify`: how many rows were checked, the head hash, and the first break."""

    rows: int
    head: str
    broken: Break | None


def verify(session: Session, *, expect_head: str | None = None) -> Verification:
    """Check the whole chain; ``expect_head`` (a head published earlier) also catches a cut-off tail."""
    count, head, found_head = 0, GENESIS, expect_head is None

    def counted() -> Iterator[LedgerEntry]:
        nonlocal count, head, found_head
        for row in iter_rows(session):
            count, head = count + 1, row.hash
            found_head = found_head or row.hash == expect_head
            yield row

    broken = find_break(counted())
    if broken is None and not found_head:
        broken = Break(count + 1, f"published head {expect_head}… is gone: rows at the end were removed")
    return Verification(rows=count, head=head, broken=broken)
