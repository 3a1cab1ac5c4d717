"""The bridge's own record of what it applied (bản ghi đã áp dụng), and how operations change it. Pure.

An incremental run must not read Keycloak to learn what the bridge itself wrote (issue 16): it compares the
directory's changes with this record. The record is a cache of Keycloak's managed state, never its truth: the
executor writes it with the operations it records, the console watcher with the console changes it accepts, and
every full run rewrites it from Keycloak and the directory (docs/decisions/0900). Anything here that could
disable someone is checked against Keycloak first (the executor verifies a leaver's id before disabling).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from bridge.adapters.directory.ldap import DirectoryEntry
from bridge.adapters.keycloak.actual import ActualState, ActualUser
from bridge.domain.sync.planner import Operation, OpKind


@dataclass(frozen=True, slots=True)
class Recorded:
    """What the bridge last applied to (or learned of) one person."""

    mail: str
    user_id: str
    #: Unit group path ("" when the person is in none).
    unit_group: str
    enabled: bool
    #: Application role group paths, sorted.
    role_groups: tuple[str, ...] = ()
    #: :func:`entry_hash` of the directory entry last applied ("" when unknown).
    entry_hash: str = ""


def entry_hash(entry: DirectoryEntry) -> str:
    """A short digest of everything the bridge reads from a directory entry (not its modifyTimestamp). Pure."""
    fields = (entry.dn, entry.mail, entry.uid, entry.display_name, entry.unit_code, entry.title, entry.employee_number)
    return hashlib.sha256("\x1f".join(fields).encode("utf-8")).hexdigest()[:32]


def actual_of_record(
    records: Iterable[Recorded], *, group_ids: Mapping[str, str], leavers: frozenset[str]
) -> ActualState:
    """Keycloak's managed state as the record says it is: what an incremental run plans against. Pure.

    Like a member listing, only people in a unit group are managed; the others are joiners to the planner.
    """
    users = {
        r.mail: ActualUser(id=r.user_id, mail=r.mail, enabled=r.enabled, unit_groups=frozenset({r.unit_group}))
        for r in records
        if r.unit_group
    }
    return ActualState(users=users, group_ids=dict(group_ids), leavers=leavers, reads=0)


def after(record: Recorded | None, op: Operation, user_id: str | None, digest: str = "") -> Recorded | None:
    """The record of ``op.mail`` once ``op`` was applied (``user_id``: the id the executor used). Pure."""
    uid = user_id or (record.user_id if record else None)
    if uid is None:
        return record
    base = record or Recorded(mail=op.mail, user_id=uid, unit_group="", enabled=True)
    base = replace(base, user_id=uid, entry_hash=digest or base.entry_hash)
    if op.kind is OpKind.ENSURE:
        return replace(base, unit_group=op.group_path or base.unit_group, enabled=op.enabled)
    if op.kind is OpKind.MOVE:
        return replace(base, unit_group=op.group_path or base.unit_group)
    return replace(base, enabled=op.kind is OpKind.ENABLE)


def repaired(
    actual: ActualState,
    applied: Iterable[tuple[Operation, str | None]],
    *,
    hashes: Mapping[str, str],
    role_groups: Mapping[str, tuple[str, ...]],
) -> dict[str, Recorded]:
    """The whole record as a full run leaves it: Keycloak's state as listed, then the run's applied operations,
    the directory's entry hashes and the role groups kept from the record (Keycloak's truth wins). Pure."""
    record = {
        mail: Recorded(
            mail=mail,
            user_id=user.id,
            unit_group=min(user.unit_groups) if user.unit_groups else "",
            enabled=user.enabled,
            role_groups=role_groups.get(mail, ()),
            entry_hash=hashes.get(mail, ""),
        )
        for mail, user in actual.users.items()
    }
    for op, user_id in applied:
        changed = after(record.get(op.mail), op, user_id, hashes.get(op.mail, ""))
        if changed is not None:
            record[op.mail] = replace(changed, role_groups=role_groups.get(op.mail, changed.role_groups))
    return record
