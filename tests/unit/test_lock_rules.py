"""The lock scheduler's verdicts (bridge.domain.lock_rules) on plain facts: no store, no Keycloak."""

from __future__ import annotations

import pytest

from bridge.domain.lock_rules import Reinstatement, reinstatement, roles_to_end, roles_to_restore
from bridge.domain.rules import Rule

BACK = Reinstatement(Rule.L4_PLANNED_END, reinstate=True, end_reason="returned")
HELD = Reinstatement(Rule.L2_ANOTHER_HOLD, reinstate=False, end_reason="still_held")
LEFT = Reinstatement(Rule.L3_LEFT_DIRECTORY, reinstate=False, end_reason="left_directory")


@pytest.mark.parametrize(
    ("still_held", "in_directory", "verdict"),
    [
        (False, True, BACK),  # back on the planned end date
        (False, None, BACK),  # no directory asked: the planned end decides
        (True, True, HELD),  # another lock (e.g. a later violation lock) still holds the person
        (False, False, LEFT),  # left the directory (or inactive) while on leave
        (True, False, HELD),  # another hold decides first
        (True, None, HELD),
    ],
)
def test_reinstatement(still_held: bool, in_directory: bool | None, verdict: Reinstatement) -> None:
    assert reinstatement(still_held=still_held, in_directory=in_directory) == verdict


def test_a_returning_account_gets_back_the_role_groups_it_held_at_the_lock() -> None:
    held = ["/apps/TST/operator", "/apps/QLVB/staff"]
    assert roles_to_restore(held_at_lock=held, revoked_since_lock=[], granted_now=held) == [
        "/apps/QLVB/staff",
        "/apps/TST/operator",
    ]


def test_a_grant_revoked_while_locked_is_not_given_back_unless_granted_again() -> None:
    held = ["/apps/TST/operator", "/apps/QLVB/staff", "/apps/SMS/viewer"]
    revoked = ["/apps/TST/operator", "/apps/SMS/viewer"]
    granted = ["/apps/QLVB/staff", "/apps/SMS/viewer"]  # SMS granted again after its revocation
    assert roles_to_restore(held_at_lock=held, revoked_since_lock=revoked, granted_now=granted) == [
        "/apps/QLVB/staff",
        "/apps/SMS/viewer",
    ]


def test_a_revocation_never_adds_a_role_group_the_account_did_not_hold() -> None:
    assert roles_to_restore(held_at_lock=[], revoked_since_lock=["/apps/TST/operator"], granted_now=[]) == []


def test_a_transfer_ends_what_keycloak_shows_and_what_the_store_grants() -> None:
    assert roles_to_end(in_keycloak=["/apps/TST/operator"], granted=["/apps/QLVB/staff", "/apps/TST/operator"]) == [
        "/apps/QLVB/staff",
        "/apps/TST/operator",
    ]
    assert roles_to_end(in_keycloak=[], granted=[]) == []
