"""The realm planner is pure: an empty Keycloak gets everything created in order; a matching one gets nothing."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

import pytest

from bridge.domain.catalogue import Application, parse_applications
from bridge.domain.realm_plan import (
    ActualRealm,
    DesiredRealm,
    LdapConnection,
    changed_fields,
    desired_realm,
    plan_realm,
)
from bridge.domain.units import UnitTree
from bridge.errors import ConfigError

DAY = dt.date(2026, 11, 23)
LDAP = LdapConnection(url="ldap://127.0.0.1:3389", bind_dn="cn=r", bind_credential="pw", users_dn="ou=people")


@pytest.fixture()
def desired(units: UnitTree, apps: tuple[Application, ...]) -> DesiredRealm:
    realm_yaml = (Path(__file__).parents[2] / "keycloak-config" / "realm.yaml").read_text()
    return desired_realm(
        realm_yaml=realm_yaml,
        units=units,
        apps=apps,
        ldap=LDAP,
        bridge_client_id="bhxh-bridge",
        bridge_client_secret="s",
        day=DAY,
    )


def matching(desired: DesiredRealm) -> ActualRealm:
    """An actual realm that already holds everything desired (as Keycloak would return it)."""
    return ActualRealm(
        exists=True,
        realm=copy.deepcopy(desired.realm),
        user_profile={"attributes": list(desired.user_profile_attributes)},
        ldap={"config": {k: [v] for k, v in desired.ldap["config"].items()}},
        ldap_mappers=[{**m, "config": {k: [v] for k, v in m["config"].items()}} for m in desired.ldap_mappers],
        group_paths={g["path"]: g for g in desired.groups},
        client_scope=copy.deepcopy(desired.client_scope),
        clients={c["clientId"]: copy.deepcopy(c) for c in (*desired.clients, desired.bridge_client)}
        | {c["clientId"]: copy.deepcopy(c) for c in desired.builtin_clients},
        bridge_roles=set(desired.bridge_roles),
        bridge_roles_any=set(desired.bridge_roles),
        session_limits=dict(desired.session_limits),
        browser_flow="bhxh-browser",
        anonymous_trusted_hosts={
            "trusted-hosts": [],
            "host-sending-registration-request-must-match": ["true"],
            "client-uris-must-match": ["true"],
        },
    )


def test_empty_keycloak_gets_realm_first_then_parents_before_children(desired: DesiredRealm) -> None:
    changes = plan_realm(desired, ActualRealm())
    assert changes[0].kind == "realm" and changes[0].action == "create"
    groups = [c.name for c in changes if c.kind == "group"]
    assert groups.index("/units") < groups.index("/units/01000") < groups.index("/units/01000/01003")
    assert "/apps/TST/operator" in groups
    assert {c.name for c in changes if c.kind == "client"} >= {"tst", "tnhs", "gdbhyt", "dvc", "qlvb", "kt", "xdcd"}


def test_matching_realm_needs_no_change(desired: DesiredRealm) -> None:
    assert plan_realm(desired, matching(desired)) == []


def test_drift_is_reported_field_by_field(desired: DesiredRealm) -> None:
    actual = matching(desired)
    actual.clients["tst"]["directAccessGrantsEnabled"] = True
    actual.clients["tst"]["attributes"]["pkce.code.challenge.method"] = "plain"
    actual.realm["accessTokenLifespan"] = 3600
    actual.bridge_roles_any.add("manage-realm")
    described = [c.describe() for c in plan_realm(desired, actual)]
    assert "update realm bhxh: accessTokenLifespan" in described
    assert "update client tst: directAccessGrantsEnabled, attributes.pkce.code.challenge.method" in described
    assert "update service-account-roles bhxh-bridge: -manage-realm" in described


def test_closed_units_get_no_group(desired: DesiredRealm) -> None:
    paths = {g["path"] for g in desired.groups}
    assert "/units/01000/01009" not in paths  # merged into 01010 on 1 Oct 2025
    assert "/units/01000/01010" in paths


def test_secrets_are_not_compared(desired: DesiredRealm) -> None:
    actual = matching(desired)
    actual.clients["bhxh-bridge"]["secret"] = "**********"
    actual.ldap["config"]["bindCredential"] = ["**********"]  # type: ignore[index]
    assert plan_realm(desired, actual) == []


def test_changed_fields_treats_string_lists_as_sets() -> None:
    assert changed_fields({"a": ["x", "y"]}, {"a": ["y", "x"]}) == []
    assert changed_fields({"a": True, "b": "1"}, {"a": "true", "b": 1}) == []
    assert changed_fields({"a": {"b": "1"}}, {"a": {"b": "2"}}) == ["a.b"]


def test_wildcard_redirect_uris_are_refused() -> None:
    text = "applications:\n- {code: X, name: X, client: x, redirect_uris: ['https://x.vn/*']}\n"
    with pytest.raises(ConfigError, match="exact"):
        parse_applications(text)
