"""The lock scheduler's verdicts (the L-rules of ``bridge.domain.rules``), as pure functions of plain facts.

The scheduler (``bridge.services.locks.scheduler``) gathers the facts — whether another lock holds the person
today, whether the directory still lists them, which role groups Keycloak and the store show — asks these
functions what the day's job comes to and which rule to cite, then acts on Keycloak and writes the outcome.
A lock takes effect on its effective date and not before (L1: the scheduler claims a job only once its
Vietnamese calendar day has come); a transfer ends the old field's role groups and leaves the account enabled
(L5); a temporary lock ends on its planned end date with the role groups the account had (L4), unless another
lock still holds the person (L2) or they left the directory meanwhile (L3). No I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bridge.domain.rules import Rule


@dataclass(frozen=True)
class Reinstatement:
    """What the planned end of a temporary lock comes to (mở lại tài khoản)."""

    #: L4-planned-end when the account comes back; L2-another-hold or L3-left-directory when it stays locked.
    rule: Rule
    #: True: enable the account and give back its role groups.
    reinstate: bool
    #: How the decision ended (``lock_decisions.end_reason``): returned | still_held | left_directory.
    end_reason: str


def reinstatement(*, still_held: bool, in_directory: bool | None) -> Reinstatement:
    """Whether the account comes back on its return day. Pure: no side effects.

    ``still_held``: another lock is in force on the person that day. ``in_directory``: the directory lists the
    person as active; None when no directory was asked. Another hold decides first: the person is not back.
    """
    if still_held:
        return Reinstatement(Rule.L2_ANOTHER_HOLD, reinstate=False, end_reason="still_held")
    if in_directory is False:
        return Reinstatement(Rule.L3_LEFT_DIRECTORY, reinstate=False, end_reason="left_directory")
    return Reinstatement(Rule.L4_PLANNED_END, reinstate=True, end_reason="returned")


def roles_to_restore(
    *, held_at_lock: Iterable[str], revoked_since_lock: Iterable[str], granted_now: Iterable[str]
) -> list[str]:
    """The role groups a returning account gets back (L4), sorted. Pure: no side effects.

    Those it held when the lock took effect, except those whose grant was revoked after the lock and not granted
    again (their ``leave`` jobs have taken them away).
    """
    taken_away = set(revoked_since_lock) - set(granted_now)
    return sorted(set(held_at_lock) - taken_away)


def roles_to_end(*, in_keycloak: Iterable[str], granted: Iterable[str]) -> list[str]:
    """The role groups a transfer ends (L5), sorted: every one Keycloak shows or an active grant gives. Pure."""
    return sorted(set(in_keycloak) | set(granted))
