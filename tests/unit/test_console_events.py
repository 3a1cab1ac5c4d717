"""Admin events → console changes: a pure translation the watcher judges with the scope policy."""

from __future__ import annotations

import json

from bridge.domain.policy import Action
from bridge.services.console_judge import unit_of_group
from bridge.services.console_watcher import event_id, parse_event

AUTH = {"realmId": "bhxh", "userId": "admin-1"}


def test_disable_and_enable_are_lock_and_unlock() -> None:
    event = {
        "time": 5,
        "resourceType": "USER",
        "operationType": "UPDATE",
        "resourcePath": "users/u1",
        "representation": json.dumps({"enabled": False}),
        "authDetails": AUTH,
    }
    change = parse_event(event)
    assert change is not None and change.action is Action.LOCK and change.user_id == "u1"
    change = parse_event({**event, "representation": json.dumps({"enabled": True})})
    assert change is not None and change.action is Action.UNLOCK


def test_membership_events_are_grant_and_revoke_with_the_group() -> None:
    event = {
        "time": 5,
        "resourceType": "GROUP_MEMBERSHIP",
        "operationType": "CREATE",
        "resourcePath": "users/u1/groups/g9",
        "representation": json.dumps({"path": "/units/79000"}),
        "authDetails": AUTH,
    }
    change = parse_event(event)
    assert change is not None and change.action is Action.GRANT
    assert (change.group_id, change.group_path, change.actor_user_id) == ("g9", "/units/79000", "admin-1")
    removed = parse_event({**event, "operationType": "DELETE"})
    assert removed is not None and removed.action is Action.REVOKE


def test_unwatched_or_malformed_events_are_ignored() -> None:
    assert parse_event({"resourceType": "CLIENT", "operationType": "UPDATE", "resourcePath": "clients/x"}) is None
    assert (
        parse_event(
            {
                "resourceType": "USER",
                "operationType": "UPDATE",
                "resourcePath": "users/u1",
                "representation": json.dumps({"firstName": "A"}),
            }
        )
        is None
    )
    assert (
        parse_event(
            {
                "resourceType": "USER",
                "operationType": "UPDATE",
                "resourcePath": "users/u1",
                "representation": "{not json",
            }
        )
        is None
    )


def test_an_account_created_in_the_console_is_a_creation_with_the_event_id() -> None:
    event = {
        "id": "ev-1",
        "time": 7,
        "resourceType": "USER",
        "operationType": "CREATE",
        "resourcePath": "users/u9",
        "representation": json.dumps({"username": "ban.cua@gmail.com", "enabled": True}),
        "authDetails": AUTH,
    }
    change = parse_event(event)
    assert change is not None and change.created and change.user_id == "u9" and change.event_id == "ev-1"
    assert change.ledger_action == "console:create"
    assert event_id({"time": 7, "operationType": "UPDATE", "resourcePath": "users/u1"}) == "7:UPDATE:users/u1"


def test_a_unit_group_names_its_unit() -> None:
    assert unit_of_group("/units/01000/01007") == "01007" and unit_of_group("/apps/TST/admin") is None
