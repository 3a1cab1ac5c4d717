"""The safety valve (van an toàn): a run that would lock out too many people stops before its first write.

A directory that suddenly lacks half its people is far more likely broken than half the staff gone. A run
whose leaver disables exceed the configured count or share of everyone managed, or the configured share of one
unit, is ``halted`` and its plan shown; :mod:`bridge.services.sync.valve` handles its two-person release. An
empty, partial or failed directory read plans no leavers at all (see :func:`bridge.domain.sync.planner.plan`),
so it can never disable anyone. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from bridge.adapters.keycloak.actual import ActualState
from bridge.domain.sync.planner import Operation, OpKind, Reason
from bridge.settings import SyncSettings


@dataclass(frozen=True)
class Verdict:
    """Whether a plan may run unattended, and why not."""

    halted: bool
    reasons: tuple[str, ...] = ()
    disables: int = 0
    population: int = 0
    by_unit: dict[str, int] = field(default_factory=dict)
    #: Reorganisation moves by unit (docs/decisions/0701).
    moves_by_unit: dict[str, int] = field(default_factory=dict)


def check(ops: list[Operation], actual: ActualState, limits: SyncSettings) -> Verdict:
    """Judge a plan against the limits. Pure."""
    leavers = [op for op in ops if op.kind is OpKind.DISABLE and op.reason is Reason.LEAVER]
    population = max(len(actual.users), 1)
    reasons: list[str] = []
    if len(leavers) > limits.max_disable_count:
        reasons.append(f"{len(leavers)} leavers to disable > limit {limits.max_disable_count}")
    if len(leavers) / population > limits.max_disable_share:
        reasons.append(
            f"{len(leavers)}/{population} = {len(leavers) / population:.1%} of managed accounts "
            f"> limit {limits.max_disable_share:.0%}"
        )
    sizes = Counter({path.rsplit("/", 1)[-1]: n for path, n in actual.unit_sizes().items()})
    by_unit = Counter(op.unit_code for op in leavers)
    for unit, count in sorted(by_unit.items()):
        size = sizes.get(unit, 0)
        if size >= limits.min_unit_size_for_share and count / size > limits.max_unit_disable_share:
            reasons.append(f"unit {unit}: {count}/{size} leavers > limit {limits.max_unit_disable_share:.0%}")
    moves = Counter(op.unit_code for op in ops if op.kind is OpKind.MOVE and op.reason is Reason.REORGANISATION)
    reasons.extend(reorg_reasons(moves, limits))
    # a move between realms disables the account here: counted per unit like reorganisation moves (0702)
    realm_moves = Counter(op.unit_code for op in ops if op.reason is Reason.REALM_MOVE)
    reasons.extend(
        f"unit {unit}: {count} moves to another realm > limit {limits.max_unit_reorg_moves}"
        for unit, count in sorted(realm_moves.items())
        if count > limits.max_unit_reorg_moves
    )
    return Verdict(bool(reasons), tuple(reasons), len(leavers), population, dict(by_unit), dict(moves))


def reorg_reasons(moves_by_unit: Mapping[str, int], limits: SyncSettings) -> list[str]:
    """Why reorganisation moves halt: a unit with more moves than ``max_unit_reorg_moves``. Pure."""
    return [
        f"unit {unit}: {count} reorganisation moves > limit {limits.max_unit_reorg_moves}"
        for unit, count in sorted(moves_by_unit.items())
        if count > limits.max_unit_reorg_moves
    ]


def role_removal_reasons(
    removals_by_unit: Mapping[str, int], members_by_unit: Mapping[str, int], limits: SyncSettings
) -> list[str]:
    """Why pending role-group removals halt (issue 15 part 2): a unit losing more than
    ``max_unit_disable_share`` of its role-group memberships at once, counted like disables (units smaller
    than ``min_unit_size_for_share`` memberships are never judged by share). Pure."""
    reasons = []
    for unit, count in sorted(removals_by_unit.items()):
        size = members_by_unit.get(unit, 0)
        if size >= limits.min_unit_size_for_share and count / size > limits.max_unit_disable_share:
            reasons.append(
                f"unit {unit}: {count}/{size} role-group memberships to remove > limit "
                f"{limits.max_unit_disable_share:.0%}"
            )
    return reasons
