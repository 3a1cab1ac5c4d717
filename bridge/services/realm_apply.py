"""Read the realm the bridge owns from Keycloak in a few bulk calls, and apply a realm plan step by step.

The plan itself is pure (:mod:`bridge.domain.realm_plan`); this module is the I/O on either side of it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from bridge.adapters.keycloak.admin import KeycloakAdmin
from bridge.domain.realm_plan import (
    ADMIN_OTP_FLOW,
    BRIDGE_CLIENT_SCOPE,
    SESSION_FLOW,
    SESSION_LIMIT_PROVIDER,
    ActualRealm,
    Change,
    DesiredRealm,
)
from bridge.errors import NotFound, PermanentError

STORAGE = "org.keycloak.storage.UserStorageProvider"
LDAP_MAPPER = "org.keycloak.storage.ldap.mappers.LDAPStorageMapper"
REGISTRATION_POLICY = "org.keycloak.services.clientregistration.policy.ClientRegistrationPolicy"


def _walk_groups(admin: KeycloakAdmin, groups: list[dict[str, Any]], out: dict[str, dict[str, Any]]) -> None:
    for group in groups:
        out[group["path"]] = group
        if group.get("subGroupCount", 0) or group.get("subGroups"):
            children = group.get("subGroups") or admin.get(
                f"groups/{group['id']}/children", max=-1, briefRepresentation="false"
            )
            _walk_groups(admin, children, out)


def read_realm(admin: KeycloakAdmin, desired: DesiredRealm) -> ActualRealm:
    """What the realm holds now of what ``desired`` manages."""
    try:
        realm = admin.get("")
    except NotFound:
        return ActualRealm(exists=False)
    actual = ActualRealm(exists=True, realm=realm, browser_flow=realm.get("browserFlow", ""))
    actual.user_profile = admin.get("users/profile")
    ldaps = admin.get("components", type=STORAGE, name=desired.ldap["name"])
    if ldaps:
        actual.ldap = ldaps[0]
        actual.ldap_mappers = admin.get("components", parent=ldaps[0]["id"], type=LDAP_MAPPER)
    groups: dict[str, dict[str, Any]] = {}
    _walk_groups(admin, admin.get("groups", max=-1, briefRepresentation="false"), groups)
    actual.group_paths = groups
    scopes = [s for s in admin.get("client-scopes") if s["name"] == BRIDGE_CLIENT_SCOPE]
    actual.client_scope = scopes[0] if scopes else None
    clients = admin.get("clients", max=-1)
    actual.clients = {c["clientId"]: c for c in clients}
    bridge = actual.clients.get(desired.bridge_client["clientId"])
    if bridge and bridge.get("serviceAccountsEnabled"):
        user = admin.get(f"clients/{bridge['id']}/service-account-user")
        rm = actual.clients["realm-management"]["id"]
        roles = {r["name"] for r in admin.get(f"users/{user['id']}/role-mappings/clients/{rm}")}
        scoped = {r["name"] for r in admin.get(f"clients/{bridge['id']}/scope-mappings/clients/{rm}")}
        # a role counts only when both held and in the token's scope (fullScopeAllowed is off)
        actual.bridge_roles = roles & scoped
        actual.bridge_roles_any = roles | scoped
    try:
        executions = admin.get(f"authentication/flows/{SESSION_FLOW}/executions")
    except NotFound:
        executions = []
    limiter = next((e for e in executions if e.get("providerId") == SESSION_LIMIT_PROVIDER), None)
    if limiter and limiter.get("authenticationConfig"):
        actual.session_limits = admin.get(f"authentication/config/{limiter['authenticationConfig']}")["config"]
    policies = admin.get("components", type=REGISTRATION_POLICY)
    trusted = next((p for p in policies if p["providerId"] == "trusted-hosts" and p["subType"] == "anonymous"), None)
    actual.anonymous_trusted_hosts = trusted["config"] if trusted else None
    actual.realm_optional_scopes = [s["name"] for s in admin.get("default-optional-client-scopes")]
    if desired.admin_second_factor:
        actual.admin_second_factor = _admin_second_factor_parts(admin, desired.admin_second_factor, executions)
    actual.login_texts = {locale: admin.get(f"localization/{locale}") for locale in desired.login_texts}
    return actual


def _subflow_children(executions: list[dict[str, Any]], parent: dict[str, Any]) -> list[dict[str, Any]]:
    """The direct children of a subflow execution in Keycloak's flattened execution list."""
    start = executions.index(parent) + 1
    children: list[dict[str, Any]] = []
    for execution in executions[start:]:
        if execution["level"] <= parent["level"]:
            break
        if execution["level"] == parent["level"] + 1:
            children.append(execution)
    return children


def _config_of(admin: KeycloakAdmin, execution: dict[str, Any]) -> dict[str, str]:
    if not execution.get("authenticationConfig"):
        return {}
    config: dict[str, str] = admin.get(f"authentication/config/{execution['authenticationConfig']}")["config"]
    return config


def _role_condition(admin: KeycloakAdmin, children: list[dict[str, Any]], role: str, *, negate: bool) -> bool:
    """Whether the subflow has a required "user role" condition on ``role`` (negated or not)."""
    for child in children:
        if child.get("providerId") == "conditional-user-role" and child["requirement"] == "REQUIRED":
            config = _config_of(admin, child)
            if config.get("condUserRole") == role and (config.get("negate") == "true") == negate:
                return True
    return False


def _staff_otp_subflow(executions: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Keycloak's own conditional OTP subflow (asks those who set up a code) in the session flow's forms."""
    for execution in executions:
        if execution.get("authenticationFlow") and execution["displayName"] != ADMIN_OTP_FLOW:
            kinds = {c.get("providerId") for c in _subflow_children(executions, execution)}
            if {"conditional-user-configured", "auth-otp-form"} <= kinds:
                return execution
    return None


def _admin_second_factor_parts(
    admin: KeycloakAdmin, spec: dict[str, str], executions: list[dict[str, Any]]
) -> frozenset[str]:
    """Which parts of the administrators' second factor are in place (see ADMIN_OTP_PARTS)."""
    parts: set[str] = set()
    try:
        admin.get(f"roles/{quote(spec['role'])}")
        parts.add("role")
        group = admin.get(f"group-by-path/{quote(spec['group'].lstrip('/'))}")
        if spec["role"] in {r["name"] for r in admin.get(f"groups/{group['id']}/role-mappings/realm")}:
            parts.add("group-role")
    except NotFound:
        pass
    subflow = next((e for e in executions if e["displayName"] == ADMIN_OTP_FLOW), None)
    if subflow is not None and subflow["requirement"] == "CONDITIONAL":
        children = _subflow_children(executions, subflow)
        otp = any(c.get("providerId") == "auth-otp-form" and c["requirement"] == "REQUIRED" for c in children)
        if otp and _role_condition(admin, children, spec["role"], negate=False):
            parts.add("admin-subflow")
    staff = _staff_otp_subflow(executions)
    if staff is not None and _role_condition(admin, _subflow_children(executions, staff), spec["role"], negate=True):
        parts.add("staff-subflow-skips-admins")
    return frozenset(parts)


def _group_id(admin: KeycloakAdmin, path: str) -> str:
    group: dict[str, Any] = admin.get(f"group-by-path/{quote(path.lstrip('/'))}")
    return str(group["id"])


def _apply_group(admin: KeycloakAdmin, change: Change) -> None:
    path: str = change.desired["path"]
    parent, _, name = path.rpartition("/")
    body = {"name": name, "attributes": change.desired["attributes"]}
    if change.action == "create":
        admin.post(f"groups/{_group_id(admin, parent)}/children" if parent else "groups", body)
    else:
        group_id = _group_id(admin, path)
        admin.put(f"groups/{group_id}", {**admin.get(f"groups/{group_id}"), **body})


def _apply_ldap(admin: KeycloakAdmin, change: Change, realm_id: str) -> None:
    desired = change.desired
    config = {k: [v] for k, v in desired["config"].items()}
    if change.action == "create":
        admin.post("components", {**desired, "parentId": realm_id, "config": config})
        return
    current = admin.get("components", type=STORAGE, name=desired["name"])[0]
    config.pop("bindCredential", None)
    admin.put(f"components/{current['id']}", {**current, "config": {**current["config"], **config}})


def _apply_ldap_mapper(admin: KeycloakAdmin, change: Change, ldap_name: str) -> None:
    ldap = admin.get("components", type=STORAGE, name=ldap_name)[0]
    desired = change.desired
    config = {k: [v] for k, v in desired["config"].items()}
    # upsert: Keycloak creates default mappers (username, email, …) together with the LDAP provider
    current = next(
        (m for m in admin.get("components", parent=ldap["id"], type=LDAP_MAPPER) if m["name"] == desired["name"]),
        None,
    )
    if current is None:
        admin.post("components", {**desired, "parentId": ldap["id"], "config": config})
        return
    admin.put(
        f"components/{current['id']}",
        {**current, "providerId": desired["providerId"], "config": {**current["config"], **config}},
    )


def _scope_id(admin: KeycloakAdmin, name: str) -> str:
    return str(next(s["id"] for s in admin.get("client-scopes") if s["name"] == name))


def _apply_client_scope(admin: KeycloakAdmin, change: Change) -> None:
    if change.action == "create":
        admin.post("client-scopes", change.desired)
        return
    scope_id = _scope_id(admin, change.desired["name"])
    have = {m["name"]: m for m in admin.get(f"client-scopes/{scope_id}/protocol-mappers/models")}
    for mapper in change.desired["protocolMappers"]:
        if mapper["name"] in have:
            current = have[mapper["name"]]
            admin.put(
                f"client-scopes/{scope_id}/protocol-mappers/models/{current['id']}",
                {**current, "config": mapper["config"]},
            )
        else:
            admin.post(f"client-scopes/{scope_id}/protocol-mappers/models", mapper)


def _apply_client(admin: KeycloakAdmin, change: Change) -> None:
    desired = dict(change.desired)
    scopes = desired.pop("defaultClientScopes", None)
    if change.action == "create":
        admin.post("clients", desired)
    current = admin.get("clients", clientId=desired["clientId"])[0]
    if change.action == "update":
        desired.pop("secret", None)
        merged = {
            **current,
            **desired,
            "attributes": {**current.get("attributes", {}), **desired["attributes"]},
        }
        admin.put(f"clients/{current['id']}", merged)
    if scopes is not None:
        have = {s["name"] for s in admin.get(f"clients/{current['id']}/default-client-scopes")}
        for name in scopes:
            if name not in have:
                admin.put(f"clients/{current['id']}/default-client-scopes/{_scope_id(admin, name)}", {})


def _apply_roles(admin: KeycloakAdmin, change: Change, bridge_client_id: str) -> None:
    bridge = admin.get("clients", clientId=bridge_client_id)[0]
    user = admin.get(f"clients/{bridge['id']}/service-account-user")
    rm = admin.get("clients", clientId="realm-management")[0]["id"]
    for path in (
        f"users/{user['id']}/role-mappings/clients/{rm}",
        f"clients/{bridge['id']}/scope-mappings/clients/{rm}",
    ):
        if change.desired["add"]:
            admin.post(path, [admin.get(f"clients/{rm}/roles/{name}") for name in change.desired["add"]])
        if change.desired["remove"]:
            admin.delete(path, [admin.get(f"clients/{rm}/roles/{name}") for name in change.desired["remove"]])


def _apply_session_limits(admin: KeycloakAdmin, change: Change) -> None:
    try:
        executions = admin.get(f"authentication/flows/{SESSION_FLOW}/executions")
    except NotFound:
        admin.post("authentication/flows/browser/copy", {"newName": SESSION_FLOW})
        executions = admin.get(f"authentication/flows/{SESSION_FLOW}/executions")
    limiter = next((e for e in executions if e.get("providerId") == SESSION_LIMIT_PROVIDER), None)
    if limiter is None:
        forms = next(e for e in executions if e.get("authenticationFlow") and e["displayName"].endswith("forms"))
        admin.post(
            f"authentication/flows/{quote(forms['displayName'])}/executions/execution",
            {"provider": SESSION_LIMIT_PROVIDER},
        )
        executions = admin.get(f"authentication/flows/{SESSION_FLOW}/executions")
        limiter = next(e for e in executions if e.get("providerId") == SESSION_LIMIT_PROVIDER)
        admin.put(f"authentication/flows/{SESSION_FLOW}/executions", {**limiter, "requirement": "REQUIRED"})
    body = {"alias": "bhxh-session-limits", "config": change.desired}
    if limiter.get("authenticationConfig"):
        admin.put(
            f"authentication/config/{limiter['authenticationConfig']}",
            {"id": limiter["authenticationConfig"], **body},
        )
    else:
        admin.post(f"authentication/executions/{limiter['id']}/config", body)
    admin.put("", {"browserFlow": SESSION_FLOW})


def _executions() -> str:
    return f"authentication/flows/{SESSION_FLOW}/executions"


def _add_execution(admin: KeycloakAdmin, flow_alias: str, provider: str, requirement: str) -> dict[str, Any]:
    """Add an authenticator to a subflow with its requirement; returns the new execution."""
    admin.post(f"authentication/flows/{quote(flow_alias)}/executions/execution", {"provider": provider})
    execution = [e for e in admin.get(f"authentication/flows/{quote(flow_alias)}/executions")
                 if e.get("providerId") == provider][-1]  # fmt: skip
    execution["requirement"] = requirement
    admin.put(_executions(), execution)
    return dict(execution)


def _add_role_condition(admin: KeycloakAdmin, flow_alias: str, role: str, *, negate: bool, alias: str) -> None:
    """A required "user role" condition on ``role`` in a subflow (negated: true for those without it)."""
    condition = _add_execution(admin, flow_alias, "conditional-user-role", "REQUIRED")
    body = {"alias": alias, "config": {"condUserRole": role, "negate": str(negate).lower()}}
    admin.post(f"authentication/executions/{condition['id']}/config", body)


def _apply_admin_second_factor(admin: KeycloakAdmin, change: Change) -> None:
    """Create what is missing of the administrators' second factor (each part idempotent)."""
    role, group_path = change.desired["role"], change.desired["group"]
    if "role" in change.fields:
        admin.post("roles", {"name": role, "description": change.desired.get("description", "")})
    if "group-role" in change.fields:
        group_id = _group_id(admin, group_path)
        admin.post(f"groups/{group_id}/role-mappings/realm", [admin.get(f"roles/{quote(role)}")])
    if "admin-subflow" in change.fields:
        executions = admin.get(_executions())
        for stale in (e for e in executions if e["displayName"] == ADMIN_OTP_FLOW):
            admin.delete(f"authentication/executions/{stale['id']}")  # half-built: start again
        forms = next(e for e in executions if e.get("authenticationFlow") and e["displayName"].endswith("forms"))
        subflow_body = {
            "alias": ADMIN_OTP_FLOW,
            "type": "basic-flow",
            "provider": "registration-page-form",
            "description": "Quản trị viên: mã TOTP bắt buộc / administrators must give a TOTP code",
        }
        admin.post(f"authentication/flows/{quote(forms['displayName'])}/executions/flow", subflow_body)
        subflow = next(e for e in admin.get(_executions()) if e["displayName"] == ADMIN_OTP_FLOW)
        admin.put(_executions(), {**subflow, "requirement": "CONDITIONAL"})
        _add_role_condition(admin, ADMIN_OTP_FLOW, role, negate=False, alias="bhxh-admin-role")
        _add_execution(admin, ADMIN_OTP_FLOW, "auth-otp-form", "REQUIRED")
        # before the session limiter: a session counts only once the second factor is given
        for _ in range(5):
            executions = admin.get(_executions())
            names = [e.get("providerId") or e["displayName"] for e in executions if e["level"] == subflow["level"]]
            if names.index(ADMIN_OTP_FLOW) < names.index(SESSION_LIMIT_PROVIDER):
                break
            admin.post(f"authentication/executions/{subflow['id']}/raise-priority", {})
    if "staff-subflow-skips-admins" in change.fields:
        staff = _staff_otp_subflow(admin.get(_executions()))
        if staff is None:
            raise PermanentError(f"no conditional OTP subflow in {SESSION_FLOW} to exempt administrators from")
        _add_role_condition(admin, staff["displayName"], role, negate=True, alias="bhxh-not-admin-role")


def _apply_registration(admin: KeycloakAdmin, change: Change) -> None:
    policies = admin.get("components", type=REGISTRATION_POLICY)
    trusted = next((p for p in policies if p["providerId"] == "trusted-hosts" and p["subType"] == "anonymous"), None)
    if trusted is None:
        realm_id = admin.get("")["id"]
        admin.post(
            "components",
            {
                "name": "Trusted Hosts",
                "providerId": "trusted-hosts",
                "subType": "anonymous",
                "providerType": REGISTRATION_POLICY,
                "parentId": realm_id,
                "config": change.desired,
            },
        )
    else:
        admin.put(f"components/{trusted['id']}", {**trusted, "config": change.desired})


def apply_realm_changes(
    admin: KeycloakAdmin,
    desired: DesiredRealm,
    changes: list[Change],
    *,
    progress: Callable[[Change], None] | None = None,
) -> None:
    """Apply ``changes`` in plan order; each step is idempotent, so a rerun after a failure converges."""
    for change in changes:
        if change.kind == "realm":
            if change.action == "create":
                admin.post("/admin/realms", change.desired)
            else:
                admin.put("", change.desired)
        elif change.kind == "user-profile":
            profile = admin.get("users/profile")
            wanted = {a["name"]: a for a in change.desired["attributes"]}
            kept = [wanted.pop(a["name"], a) for a in profile.get("attributes", [])]
            profile["attributes"] = [*kept, *wanted.values()]
            admin.put("users/profile", profile)
        elif change.kind == "ldap":
            _apply_ldap(admin, change, admin.get("")["id"])
        elif change.kind == "ldap-mapper":
            _apply_ldap_mapper(admin, change, desired.ldap["name"])
        elif change.kind == "group":
            _apply_group(admin, change)
        elif change.kind == "client-scope":
            _apply_client_scope(admin, change)
        elif change.kind == "client":
            _apply_client(admin, change)
        elif change.kind == "service-account-roles":
            _apply_roles(admin, change, desired.bridge_client["clientId"])
        elif change.kind == "session-limits":
            _apply_session_limits(admin, change)
        elif change.kind == "realm-optional-scopes":
            for name in change.desired["remove"]:
                scope = next((s for s in admin.get("default-optional-client-scopes") if s["name"] == name), None)
                if scope is not None:
                    admin.delete(f"default-optional-client-scopes/{scope['id']}")
        elif change.kind == "client-optional-scopes":
            client = admin.get("clients", clientId=change.name)[0]
            for scope in admin.get(f"clients/{client['id']}/optional-client-scopes"):
                if scope["name"] in change.desired["remove"]:
                    admin.delete(f"clients/{client['id']}/optional-client-scopes/{scope['id']}")
        elif change.kind == "login-texts":
            admin.post(f"localization/{change.name}", change.desired)  # a JSON map: creates or updates each key
        elif change.kind == "admin-second-factor":
            _apply_admin_second_factor(admin, change)
        elif change.kind == "client-registration":
            _apply_registration(admin, change)
        else:
            raise PermanentError(f"unknown change kind {change.kind}")
        if progress is not None:
            progress(change)
