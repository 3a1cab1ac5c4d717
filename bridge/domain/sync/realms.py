"""The realm dimension of a sync run (docs/decisions/0702): each realm is synced on its own, with the people
whose unit lies in it (units.yaml ``realm``).

Kept at the edges of the planner on purpose: the desired state of the whole directory is cut down to one
realm before planning, and the plan's leaver disables of people who are in the directory but now belong to
another realm are relabelled as realm moves afterwards. The planner and the executor are unchanged; the move's
other half (the import into the new realm) is that realm's run, a joiner there. Pure: no I/O, no clock.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable

from bridge.domain.sync.desired import DesiredState
from bridge.domain.sync.planner import Operation, OpKind, Reason
from bridge.domain.units import UnitTree


def for_realm(desired: DesiredState, units: UnitTree, realm: str) -> tuple[DesiredState, frozenset[str]]:
    """The desired state of ``realm``, and the mails of the directory's people who belong to another realm.

    A person's realm is their unit's on the day (the successor's when the unit closed). Pure.
    """
    people = {m: p for m, p in desired.people.items() if units.realm_of(p.unit_code, desired.day) == realm}
    return dataclasses.replace(desired, people=people), frozenset(desired.people) - frozenset(people)


def mark_realm_moves(ops: list[Operation], elsewhere: frozenset[str]) -> list[Operation]:
    """The plan with each leaver disable of a person now in another realm marked as a realm move. Pure."""
    return [
        dataclasses.replace(op, reason=Reason.REALM_MOVE)
        if op.kind is OpKind.DISABLE and op.reason is Reason.LEAVER and op.mail in elsewhere
        else op
        for op in ops
    ]


def realm_leavers(leavers: Iterable[tuple[str, str]], units: UnitTree, realm: str, day: dt.date) -> frozenset[str]:
    """The mails of the bridge's disabled accounts (mail, unit of the disable) that lie in ``realm``. A realm
    move is recorded like a leaver, under the old realm's unit: that realm skips it from then on, and imports
    the person again as a returner if they come back, while the new realm never counts them as its own. Pure."""
    return frozenset(mail for mail, unit in leavers if units.realm_of(unit, day) == realm)
