"""Reorganisations that carry grants (sắp xếp tổ chức): what moves when a unit closes. Pure: no I/O, no clock.

When a unit closes with a successor (units.yaml ``successor``: a merger) every grant, every open lock decision
and every administrator scoped to it moves to the successor; when it closes with several (``successors``: a
split) each person's rows follow their unit in the official directory, which must be one of the successors (or
lie below one). Until the move, nobody can see or revoke the closed unit's grants: ``decide()`` refuses unknown
units first. The plan is computed here, shown, approved by its hash and applied as it was shown; anything the
plan cannot place (a person of a split whose directory unit is no successor) is a problem, and a plan with
problems is not applied (docs/decisions/0701).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from bridge.domain.units import UnitTree

#: What a move concerns, with its Vietnamese label.
KINDS = {"grant": "Quyền phần mềm / grant", "lock": "Quyết định khóa / lock decision",
         "administrator": "Phạm vi quản trị / administrator scope"}  # fmt: skip


@dataclass(frozen=True)
class Held:
    """One row scoped to a unit: a grant (key: its id), an open lock decision (id) or an administrator (e-mail)."""

    kind: str
    key: str
    email: str
    unit_code: str


@dataclass(frozen=True)
class Move:
    """One row moving from the closed unit to a successor."""

    kind: str
    key: str
    email: str
    from_unit: str
    to_unit: str

    def as_dict(self) -> dict[str, str]:
        """The move as the plan's JSON shows (and hashes) it."""
        return {"kind": self.kind, "key": self.key, "email": self.email, "from": self.from_unit, "to": self.to_unit}


@dataclass(frozen=True)
class ReorgPlan:
    """The moves of one closed unit on one day, and what could not be placed."""

    closed: str
    day: dt.date
    successors: tuple[str, ...]
    moves: tuple[Move, ...]
    problems: tuple[str, ...] = ()
    by_unit: dict[str, int] = field(default_factory=dict)

    @property
    def split(self) -> bool:
        """True when the unit splits into several successors."""
        return len(self.successors) > 1

    def subject(self) -> dict[str, object]:
        """What two persons approve: the closed unit, the day and every move (hashed by the approvals)."""
        return {"kind": "reorganisation", "closed": self.closed, "day": self.day.isoformat(),
                "successors": list(self.successors), "moves": [m.as_dict() for m in self.moves]}  # fmt: skip


def plan_reorg(
    closed: str, day: dt.date, units: UnitTree, held: Iterable[Held], directory_unit: Mapping[str, str | None]
) -> ReorgPlan:
    """The moves that carry ``closed``'s rows to its successor(s) on ``day``.

    ``held`` are the rows still scoped to ``closed``; ``directory_unit`` maps each of their e-mails to the unit the
    official directory gives the person today (None: not in the directory). Moves are sorted, so the same
    state always gives the same plan and the same hash.
    """
    problems: list[str] = []
    if units.get(closed, day) is not None:
        problems.append(f"đơn vị {closed} vẫn còn hiệu lực ngày {day:%d/%m/%Y} / unit {closed} is still open")
    named = units.closing_successors(closed)
    successors = tuple(units.successor_on(code, day) or code for code in named)
    if not named:
        problems.append(f"đơn vị {closed} không có đơn vị kế thừa / unit {closed} names no successor")
    for code in successors:
        if units.get(code, day) is None:
            problems.append(f"đơn vị kế thừa {code} không có hiệu lực ngày {day:%d/%m/%Y} / successor {code} "
                            "is not open on the day")  # fmt: skip
    moves: list[Move] = []
    for row in sorted(held, key=lambda r: (r.kind, r.email, r.key)):
        if row.unit_code != closed or not successors:
            continue
        target = successors[0] if len(successors) == 1 else _by_directory(row, successors, units, day,
                                                                         directory_unit, problems)  # fmt: skip
        if target is not None:
            moves.append(Move(row.kind, row.key, row.email, closed, target))
    return ReorgPlan(closed, day, successors, tuple(moves), tuple(problems),
                     dict(sorted(Counter(m.to_unit for m in moves).items())))  # fmt: skip


def _by_directory(
    row: Held, successors: tuple[str, ...], units: UnitTree, day: dt.date, directory_unit: Mapping[str, str | None],
    problems: list[str],
) -> str | None:  # fmt: skip
    unit = directory_unit.get(row.email)
    found = next((s for s in successors if unit is not None and units.is_under(unit, s, day)), None)
    if found is None:
        problems.append(f"{row.email}: đơn vị trong danh bạ {unit or '—'} không thuộc đơn vị kế thừa nào "
                        f"({', '.join(successors)}) / directory unit is none of the successors")  # fmt: skip
    return found
