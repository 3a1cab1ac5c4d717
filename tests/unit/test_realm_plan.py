"""The realm planner is pure: an empty Keycloak gets everything created in order; a matching one gets nothing."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from bridge.domain.catalogue import Application, parse_applications
from bridge.domain.realm_plan import (
    ADMIN_OTP_PARTS,
    ActualRealm,
    ConsoleClient,
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
        console=ConsoleClient(base_url="http://127.0.0.1:8000", secret="ui-secret"),
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
        admin_second_factor=frozenset(ADMIN_OTP_PARTS),
        login_texts=copy.deepcopy(desired.login_texts),
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


def test_application_role_groups_are_ranked_in_catalogue_order(desired: DesiredRealm) -> None:
    groups = {g["path"]: g["attributes"] for g in desired.groups}
    assert groups["/apps/TST"] == {"application": ["TST"]}
    assert [groups[f"/apps/TST/{r}"]["rank"] for r in ("operator", "supervisor", "admin")] == [["0"], ["1"], ["2"]]
    paths = [g["path"] for g in desired.groups]
    assert paths.index("/apps") > max(i for i, p in enumerate(paths) if p.startswith("/units"))


def test_ldap_is_read_only_and_its_mappers_read_from_the_directory(desired: DesiredRealm) -> None:
    config = desired.ldap["config"]
    assert (config["editMode"], config["connectionUrl"], config["bindCredential"]) == (
        "READ_ONLY",
        LDAP.url,
        LDAP.bind_credential,
    )
    assert config["importEnabled"] == "true"  # booleans as Keycloak's strings
    mappers = {m["name"]: m["config"] for m in desired.ldap_mappers}
    assert mappers["username"]["ldap.attribute"] == "mail"
    assert mappers["unit_code"]["ldap.attribute"] == "departmentNumber"
    assert {c["read.only"] for c in mappers.values()} == {"true"}
    assert [n for n, c in mappers.items() if c["is.mandatory.in.ldap"] == "true"] == ["username", "email"]


def test_profile_ldap_mapper_and_group_drift_is_planned(desired: DesiredRealm) -> None:
    actual = matching(desired)
    actual.user_profile["attributes"] = actual.user_profile["attributes"][1:]
    assert actual.ldap is not None
    actual.ldap["config"]["editMode"] = ["WRITABLE"]
    actual.ldap_mappers[0]["providerId"] = "full-name-ldap-mapper"
    actual.ldap_mappers = [m for m in actual.ldap_mappers if m["name"] != "title"]
    actual.group_paths["/apps/TST/admin"] = {"path": "/apps/TST/admin", "attributes": {"rank": ["0"]}}
    del actual.group_paths["/apps/TST/operator"]
    described = [c.describe() for c in plan_realm(desired, actual)]
    assert described == [
        "update user-profile attributes: unit_code",
        "update ldap official-mail-directory: config.editMode",
        "update ldap-mapper username",
        "create ldap-mapper title",
        "create group /apps/TST/operator",
        "update group /apps/TST/admin: attributes",
    ]


def test_claims_scope_puts_unit_code_groups_and_name_in_tokens(desired: DesiredRealm) -> None:
    mappers = {m["name"]: m["config"] for m in desired.client_scope["protocolMappers"]}
    assert {c["claim.name"] for c in mappers.values()} == {"unit_code", "groups", "name_vi"}
    assert all(c["access.token.claim"] == c["id.token.claim"] == "true" for c in mappers.values())
    actual = matching(desired)
    assert actual.client_scope is not None
    actual.client_scope["protocolMappers"][1]["config"]["full.path"] = "false"
    assert [c.describe() for c in plan_realm(desired, actual)] == ["update client-scope bhxh-claims: groups"]
    actual.client_scope = None
    assert [c.describe() for c in plan_realm(desired, actual)] == ["create client-scope bhxh-claims"]


def test_clients_only_the_code_flow_and_the_ui_client_carries_the_api_audience(desired: DesiredRealm) -> None:
    clients = {c["clientId"]: c for c in desired.clients}
    assert all(c["attributes"]["pkce.code.challenge.method"] == "S256" for c in clients.values())
    assert not any(c["directAccessGrantsEnabled"] or c["implicitFlowEnabled"] for c in clients.values())
    assert clients["tst"]["attributes"]["backchannel.logout.url"].endswith("/oidc/backchannel-logout")
    assert "backchannel.logout.url" not in clients["tnhs"]["attributes"]
    ui = clients["bhxh-bridge-ui"]
    assert ui["publicClient"] is False and ui["clientAuthenticatorType"] == "client-secret"
    assert ui["redirectUris"] == ["http://127.0.0.1:8000/ui/callback"]
    assert ui["attributes"]["backchannel.logout.url"] == "http://127.0.0.1:8000/ui/backchannel-logout"
    assert ui["secret"] == "ui-secret" and ui["attributes"]["backchannel.logout.session.required"] == "true"
    assert ui["protocolMappers"][0]["config"]["included.custom.audience"] == "bhxh-bridge-api"
    assert desired.bridge_client["serviceAccountsEnabled"] is True
    assert desired.bridge_client["standardFlowEnabled"] is False


def test_protocol_mappers_of_clients_are_not_compared_but_a_missing_client_is_created(desired: DesiredRealm) -> None:
    actual = matching(desired)
    actual.clients["bhxh-bridge-ui"]["protocolMappers"] = [{"id": "x", "name": "bridge api audience"}]
    del actual.clients["kt"]
    assert [c.describe() for c in plan_realm(desired, actual)] == ["create client kt"]


def test_builtin_clients_are_hardened_in_place(desired: DesiredRealm) -> None:
    actual = matching(desired)
    actual.clients["admin-cli"]["directAccessGrantsEnabled"] = True
    actual.clients["account"]["attributes"] = {}
    assert [c.describe() for c in plan_realm(desired, actual)] == [
        "update client admin-cli: directAccessGrantsEnabled",
        "update client account: attributes.pkce.code.challenge.method",
    ]


def test_offline_access_is_removed_from_the_realm_and_mutable_clients(desired: DesiredRealm) -> None:
    actual = matching(desired)
    actual.realm_optional_scopes = ["offline_access", "phone"]
    actual.clients["tst"]["optionalClientScopes"] = ["offline_access", "address"]
    actual.clients["admin-cli"]["optionalClientScopes"] = ["offline_access"]
    actual.clients["admin-cli"]["attributes"]["realm_client"] = "true"  # Keycloak refuses changes to these
    changes = plan_realm(desired, actual)
    assert [c.describe() for c in changes] == [
        "update realm-optional-scopes bhxh: -offline_access",
        "update client-optional-scopes tst: -offline_access",
    ]
    assert [c.desired for c in changes] == [{"remove": ["offline_access"]}, {"remove": ["offline_access"]}]


def test_session_limits_and_the_browser_flow_are_planned(desired: DesiredRealm) -> None:
    assert desired.session_limits == {
        "userRealmLimit": "3",
        "userClientLimit": "1",
        "behavior": "Terminate oldest session",
    }
    actual = matching(desired)
    actual.browser_flow = "browser"
    assert actual.session_limits is not None
    actual.session_limits["userClientLimit"] = "5"
    assert [c.describe() for c in plan_realm(desired, actual)] == [
        "update session-limits bhxh-browser: userClientLimit, browserFlow"
    ]
    actual.session_limits = None
    assert [c.describe() for c in plan_realm(desired, actual)] == ["create session-limits bhxh-browser"]


@pytest.mark.parametrize(
    "policy",
    [
        None,
        {"trusted-hosts": ["10.0.0.1"], "host-sending-registration-request-must-match": ["true"]},
        {"trusted-hosts": [], "host-sending-registration-request-must-match": ["false"]},
    ],
)
def test_open_anonymous_registration_is_closed(desired: DesiredRealm, policy: dict[str, list[str]] | None) -> None:
    actual = matching(desired)
    actual.anonymous_trusted_hosts = policy
    changes = plan_realm(desired, actual)
    assert [c.describe() for c in changes] == ["update client-registration anonymous: trusted-hosts"]
    assert changes[0].desired["trusted-hosts"] == []


def test_changed_fields_treats_string_lists_as_sets() -> None:
    assert changed_fields({"a": ["x", "y"]}, {"a": ["y", "x"]}) == []
    assert changed_fields({"a": True, "b": "1"}, {"a": "true", "b": 1}) == []
    assert changed_fields({"a": {"b": "1"}}, {"a": {"b": "2"}}) == ["a.b"]


def test_wildcard_redirect_uris_are_refused() -> None:
    text = "applications:\n- {code: X, name: X, client: x, redirect_uris: ['https://x.vn/*']}\n"
    with pytest.raises(ConfigError, match="exact"):
        parse_applications(text)


def test_administrators_must_use_totp_and_the_missing_parts_are_planned(desired: DesiredRealm) -> None:
    assert desired.admin_second_factor["role"] == "bhxh-administrator"
    group = next(g for g in desired.groups if g["path"] == desired.admin_second_factor["group"])
    assert group["attributes"]["managed_by"] == ["bhxh-bridge"]
    actual = matching(desired)
    actual.admin_second_factor = frozenset({"role", "group-role"})
    [change] = plan_realm(desired, actual)
    assert (change.kind, change.fields) == ("admin-second-factor", ("admin-subflow", "staff-subflow-skips-admins"))
    # after the session-limits step, which creates the browser flow the subflow goes into
    actual.session_limits = None
    kinds = [c.kind for c in plan_realm(desired, actual)]
    assert kinds.index("session-limits") < kinds.index("admin-second-factor")


def test_login_texts_name_the_brute_force_protection_in_both_languages(desired: DesiredRealm) -> None:
    assert "bảo vệ chống dò mật khẩu" in desired.login_texts["vi"]["accountTemporarilyDisabledMessage"]
    assert "brute-force" in desired.login_texts["en"]["accountTemporarilyDisabledMessage"]
    actual = matching(desired)
    actual.login_texts["vi"]["accountTemporarilyDisabledMessage"] = "Keycloak's own text"
    [change] = plan_realm(desired, actual)
    assert (change.kind, change.name, change.fields) == ("login-texts", "vi", ("accountTemporarilyDisabledMessage",))


def test_a_starttls_directory_makes_keycloak_use_starttls_without_pooling(
    units: UnitTree, apps: tuple[Application, ...], desired: DesiredRealm
) -> None:
    """Decision 0840: with ``directory.start_tls`` the bridge upgrades its own connections, and Keycloak's
    federation must too, or password checks reach the directory in clear; JNDI's StartTLS cannot pool."""
    assert "startTls" not in desired.ldap["config"] and desired.ldap["config"]["connectionPooling"] == "true"
    realm_yaml = (Path(__file__).parents[2] / "keycloak-config" / "realm.yaml").read_text()
    tls = desired_realm(
        realm_yaml=realm_yaml, units=units, apps=apps, ldap=dataclasses.replace(LDAP, start_tls=True),
        bridge_client_id="bhxh-bridge", bridge_client_secret="s", day=DAY,
        console=ConsoleClient(base_url="http://127.0.0.1:8000", secret="ui-secret"),
    )  # fmt: skip
    assert (tls.ldap["config"]["startTls"], tls.ldap["config"]["connectionPooling"]) == ("true", "false")
    changes = plan_realm(tls, matching(desired))
    assert any("startTls" in str(c) for c in changes), changes  # an existing realm is brought to StartTLS
