"""The applied record in the store: read it for an incremental run, write it with the operations, repair it.

:mod:`bridge.domain.sync.record` says what the record means; this module moves it in and out of the store in
bulk (an incremental run at 100,000 people reads the whole record once, so rows are read as plain tuples, and a
full run writes only the rows that differ). See docs/decisions/0900.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from bridge.adapters.store.sync_models import AppliedPerson, ManagedGroup
from bridge.domain.sync.planner import Operation
from bridge.domain.sync.record import Recorded, after

#: Rows per bulk statement.
CHUNK = 2000


def _split(groups: str) -> tuple[str, ...]:
    return tuple(g for g in groups.split("\n") if g) if groups else ()


def _row(r: Recorded, now: dt.datetime) -> dict[str, object]:
    return {
        "email": r.mail,
        "user_id": r.user_id,
        "unit_group": r.unit_group,
        "enabled": r.enabled,
        "role_groups": "\n".join(r.role_groups),
        "entry_hash": r.entry_hash,
        "updated_at": now,
    }


#: The record's columns, in the order :func:`_recorded` reads them.
COLUMNS = (
    AppliedPerson.email,
    AppliedPerson.user_id,
    AppliedPerson.unit_group,
    AppliedPerson.enabled,
    AppliedPerson.role_groups,
    AppliedPerson.entry_hash,
)


def _recorded(row: Sequence[Any]) -> Recorded:
    mail, user_id, unit_group, enabled, roles, digest = row
    return Recorded(mail, user_id, unit_group, bool(enabled), _split(roles), digest)


def load(session: Session, mails: Iterable[str] | None = None) -> dict[str, Recorded]:
    """The record (of ``mails`` only, when given)."""
    query = select(*COLUMNS)
    found: dict[str, Recorded] = {}
    chunks: list[list[str] | None] = [None]
    if mails is not None:
        wanted = sorted(set(mails))
        chunks = [wanted[i : i + CHUNK] for i in range(0, len(wanted), CHUNK)]
    for chunk in chunks:
        q = query if chunk is None else query.where(AppliedPerson.email.in_(chunk))
        for row in session.execute(q):
            found[row[0]] = _recorded(row)
    return found


def role_groups(session: Session) -> dict[str, tuple[str, ...]]:
    """Role groups by mail, for the people that have some."""
    query = select(AppliedPerson.email, AppliedPerson.role_groups).where(AppliedPerson.role_groups != "")
    rows = session.execute(query)
    return {mail: _split(roles) for mail, roles in rows}


def group_ids(session: Session) -> dict[str, str]:
    """Path → id of the managed groups, as the last full run read them."""
    return {path: gid for path, gid in session.execute(select(ManagedGroup.path, ManagedGroup.group_id))}


def save_group_ids(session: Session, ids: Mapping[str, str]) -> None:
    """Replace the managed groups' ids with ``ids`` (a full run's read of the group tree)."""
    if ids == group_ids(session):
        return
    session.execute(delete(ManagedGroup))
    session.execute(insert(ManagedGroup), [{"path": p, "group_id": g} for p, g in sorted(ids.items())])


def write(session: Session, records: Iterable[Recorded], *, known: Mapping[str, Recorded] | None = None) -> int:
    """Insert or update ``records``; ``known`` is what the store holds for them (read when not given).

    Returns the number of rows written (unchanged rows are not written).
    """
    records = list(records)
    if known is None:
        known = load(session, (r.mail for r in records))
    now = dt.datetime.now(dt.UTC)
    new = [_row(r, now) for r in records if r.mail not in known]
    changed = [_row(r, now) for r in records if r.mail in known and known[r.mail] != r]
    for i in range(0, len(new), CHUNK):
        session.execute(insert(AppliedPerson), new[i : i + CHUNK])
    for i in range(0, len(changed), CHUNK):
        session.execute(update(AppliedPerson), changed[i : i + CHUNK])
    return len(new) + len(changed)


def record_applied(
    session: Session, applied: Sequence[tuple[Operation, str | None]], hashes: Mapping[str, str]
) -> None:
    """Record what a batch of applied operations did (the executor's recorder, in its transaction)."""
    if not applied:
        return
    known = load(session, (op.mail for op, _ in applied))
    current = dict(known)
    for op, user_id in applied:
        changed = after(current.get(op.mail), op, user_id, hashes.get(op.mail, ""))
        if changed is not None:
            current[op.mail] = changed
    write(session, [r for mail, r in current.items() if known.get(mail) != r], known=known)


def replace_all(session: Session, record: Mapping[str, Recorded]) -> tuple[int, int]:
    """Make the stored record equal ``record`` (a full run's repair). Returns (rows written, rows deleted).

    The stored rows are compared as they stream from the store, never all held at once beside ``record``.
    """
    now = dt.datetime.now(dt.UTC)
    seen: set[str] = set()
    changed: list[dict[str, object]] = []
    gone: list[str] = []
    # Core rows, not the ORM's: at 100,000 rows its row loading was most of the full run's serial end (0912).
    for row in session.connection().execute(select(*COLUMNS)).yield_per(CHUNK):
        mail = row[0]
        seen.add(mail)
        wanted = record.get(mail)
        if wanted is None:
            gone.append(mail)
        elif wanted != _recorded(row):
            changed.append(_row(wanted, now))
    new = [_row(r, now) for mail, r in record.items() if mail not in seen]
    for i in range(0, len(new), CHUNK):
        session.execute(insert(AppliedPerson), new[i : i + CHUNK])
    for i in range(0, len(changed), CHUNK):
        session.execute(update(AppliedPerson), changed[i : i + CHUNK])
    written = len(new) + len(changed)
    for i in range(0, len(gone), CHUNK):
        session.execute(delete(AppliedPerson).where(AppliedPerson.email.in_(gone[i : i + CHUNK])))
    return written, len(gone)


def accept_console_change(
    session: Session,
    *,
    user_id: str,
    group_path: str | None,
    joined: bool | None,
    enabled: bool | None,
    unit_root: str,
) -> bool:
    """Carry a console change the watcher accepted into the record (a person the record does not know is left to
    the next full run). Returns whether a row changed."""
    if not group_path or joined is None:
        return _carry(session, user_id, enabled=enabled)
    if group_path.startswith(unit_root.rstrip("/") + "/"):
        return _carry(session, user_id, enabled=enabled, unit_group=group_path if joined else None,
                      unit_left=None if joined else group_path)  # fmt: skip
    group = (group_path,)
    return _carry(session, user_id, enabled=enabled, roles_joined=group if joined else (),
                  roles_left=() if joined else group)  # fmt: skip


def carry_lock_write(
    session: Session,
    *,
    user_id: str,
    enabled: bool | None = None,
    roles_joined: Iterable[str] = (),
    roles_left: Iterable[str] = (),
) -> bool:
    """Carry what the lock scheduler wrote to an account (disabled; role groups ended or re-joined; re-enabled)
    into the record, in the transaction that records the decision's outcome.

    The watcher skips the bridge's own service account, so without this an incremental run would compare a
    locked person's re-read entry with ``enabled: true`` and disable the account again (decision 0900)."""
    return _carry(session, user_id, enabled=enabled, roles_joined=tuple(roles_joined), roles_left=tuple(roles_left))


def _carry(
    session: Session,
    user_id: str,
    *,
    enabled: bool | None = None,
    unit_group: str | None = None,
    unit_left: str | None = None,
    roles_joined: tuple[str, ...] = (),
    roles_left: tuple[str, ...] = (),
) -> bool:
    """Change one person's row, found by Keycloak user id; whether it changed."""
    row = session.scalars(select(AppliedPerson).where(AppliedPerson.user_id == user_id)).first()
    if row is None:
        return False
    before = (row.unit_group, row.enabled, row.role_groups)
    if enabled is not None:
        row.enabled = enabled
    if unit_group is not None:
        row.unit_group = unit_group
    if unit_left is not None and row.unit_group == unit_left:
        row.unit_group = ""
    if roles_joined or roles_left:
        roles = (set(_split(row.role_groups)) | set(roles_joined)) - set(roles_left)
        row.role_groups = "\n".join(sorted(roles))
    if (row.unit_group, row.enabled, row.role_groups) == before:
        return False
    row.updated_at = dt.datetime.now(dt.UTC)
    return True
