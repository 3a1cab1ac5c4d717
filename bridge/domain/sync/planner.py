"""The plan: the operations that make Keycloak match the desired state. Pure: no I/O, no clock.

Operations are what the bridge owns and nothing else: a user's presence (the import lookup that makes Keycloak
fetch the person from the directory), membership of unit groups under ``/units`` (other groups, including the
application role groups under ``/apps``, are granted elsewhere and never touched here), and ``enabled``.
A leaver is disabled, never deleted (khóa, không xóa); a returner is re-enabled only when no hold (a lock in
force, e.g. nghỉ thai sản) covers them; a reorganisation is a mass move into the successor unit's group.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bridge.adapters.keycloak.actual import ActualState
from bridge.domain.sync.desired import DesiredState


class OpKind(enum.StrEnum):
    """What an operation does to one account."""

    ENSURE = "ensure"  # nhập tài khoản (người mới) — joiner
    MOVE = "move"  # chuyển đơn vị — mover, reorganisation
    DISABLE = "disable"  # khóa tài khoản — leaver, hold
    ENABLE = "enable"  # mở lại tài khoản — returner


class Reason(enum.StrEnum):
    """Why an operation is planned (labels in :data:`REASON_LABELS`)."""

    JOINER = "joiner"
    MOVER = "mover"
    REORGANISATION = "reorganisation"
    LEAVER = "leaver"
    RETURNER = "returner"
    HOLD = "hold"
    #: The person's unit now lies in another realm (units.yaml ``realm``): disabled here, imported there (0702).
    REALM_MOVE = "realm_move"


REASON_LABELS = {
    Reason.JOINER: "Người mới / Joiner",
    Reason.MOVER: "Chuyển đơn vị / Mover",
    Reason.REORGANISATION: "Sắp xếp tổ chức / Reorganisation",
    Reason.LEAVER: "Nghỉ việc, khóa / Leaver, disabled",
    Reason.RETURNER: "Trở lại, mở khóa / Returner, re-enabled",
    Reason.HOLD: "Đang bị khóa / Under a lock",
    Reason.REALM_MOVE: "Chuyển sang realm khác / Moved to another realm",
}


@dataclass(frozen=True, slots=True)
class Operation:
    """One change to one account."""

    kind: OpKind
    reason: Reason
    mail: str
    #: Unit the operation is reported under: the desired unit, or the leaver's last unit.
    unit_code: str
    user_id: str | None = None
    #: Unit group to join (ENSURE, MOVE).
    group_path: str | None = None
    #: Managed unit groups to leave (MOVE).
    leave_groups: tuple[str, ...] = ()
    #: For ENSURE: whether the account stays enabled after import (False when a hold covers the person).
    enabled: bool = True

    def key(self) -> dict[str, Any]:
        """Canonical form for the plan hash (ids excluded: a plan means the same on a re-read)."""
        return {
            "kind": self.kind.value,
            "reason": self.reason.value,
            "mail": self.mail,
            "group": self.group_path,
            "leave": list(self.leave_groups),
            "enabled": self.enabled,
        }


def unit_of_group(path: str) -> str:
    """The unit code a unit group stands for: its last path segment."""
    return path.rstrip("/").rsplit("/", 1)[-1]


def plan(
    desired: DesiredState,
    actual: ActualState,
    holds: Iterable[str],
    day: dt.date,
    *,
    elsewhere: Iterable[str] = (),
) -> list[Operation]:
    """Operations turning ``actual`` into ``desired`` on ``day``, sorted by unit then mail. Pure.

    Leavers are planned only from a complete, non-empty directory read: a full one, or an incremental one with
    the set of every mail the directory holds (``desired.present``); people whose directory entry
    was rejected (their state is unknown) are never disabled. ``elsewhere`` names accounts whose life another
    service owns (approved exception accounts: not in the directory by definition, ended on their own date).
    """
    if desired.day != day:
        raise ValueError(f"desired state is of {desired.day:%d/%m/%Y}, not {day:%d/%m/%Y}")
    held = frozenset(holds)
    ops: list[Operation] = []
    for mail, person in desired.people.items():
        locked = mail in held
        user = actual.users.get(mail)
        reason = Reason.REORGANISATION if person.reorganised else Reason.MOVER
        if user is None:
            ops.append(
                Operation(
                    OpKind.ENSURE,
                    Reason.REORGANISATION if person.reorganised else Reason.JOINER,
                    mail,
                    person.unit_code,
                    group_path=person.group_path,
                    enabled=not locked,
                )
            )
            continue
        if user.unit_groups != {person.group_path}:
            ops.append(
                Operation(
                    OpKind.MOVE,
                    reason,
                    mail,
                    person.unit_code,
                    user.id,
                    person.group_path,
                    tuple(sorted(user.unit_groups - {person.group_path})),
                )
            )
        if locked and user.enabled:
            ops.append(Operation(OpKind.DISABLE, Reason.HOLD, mail, person.unit_code, user.id))
        elif not locked and mail in actual.leavers:
            ops.append(Operation(OpKind.ENABLE, Reason.RETURNER, mail, person.unit_code, user.id))
    # A full read names everyone; an incremental one names who changed, and its ``present`` set (one cheap read of
    # every entry's mail) names who is still there: the leavers are the managed people missing from it.
    known: frozenset[str] | None = None
    if desired.incremental and desired.present is not None:
        known = desired.present - frozenset(desired.unofficial)
    elif not desired.incremental and desired.people:
        known = frozenset(desired.people)
    if desired.complete and known:
        skip = desired.uncertain | actual.leavers | frozenset(elsewhere)
        for mail, user in actual.users.items():
            if mail in known or mail in skip:
                continue
            unit = unit_of_group(min(user.unit_groups))
            ops.append(Operation(OpKind.DISABLE, Reason.LEAVER, mail, unit, user.id))
    return sorted(ops, key=lambda op: (op.unit_code, op.mail, op.kind.value))
