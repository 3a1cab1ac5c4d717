"""Fine-grained admin permissions v2 for the Keycloak console: a provincial administrator's scope.

A permission on the province's unit group (view-members, manage-members, manage-membership) lets the
province's administrators manage the people of the province and its branches in the console; Keycloak refuses
the rest. What v2 does not cover for federated users is handled by the admin-event watcher
(docs/decisions/0003-credentials-findings.md).
"""

from __future__ import annotations

from urllib.parse import quote

from bridge.adapters.keycloak.admin import KeycloakAdmin

MEMBER_SCOPES = ("view-members", "manage-members", "manage-membership")
CONSOLE_ROLES = ("query-users", "query-groups")


def ensure_province_console_scope(
    admin: KeycloakAdmin, *, unit_code: str, group_path: str, admin_user_ids: list[str]
) -> str:
    """Create or update the user policy and group permission of one province; returns the permission id."""
    apc = admin.get("clients", clientId="admin-permissions")[0]["id"]
    server = f"clients/{apc}/authz/resource-server"
    policy_name = f"quan-tri-{unit_code}"
    policies = [p for p in admin.get(f"{server}/policy", name=policy_name) if p["name"] == policy_name]
    policy_body = {
        "name": policy_name,
        "description": f"Quản trị viên đơn vị {unit_code}",
        "users": admin_user_ids,
        "logic": "POSITIVE",
    }
    if policies:
        admin.put(f"{server}/policy/user/{policies[0]['id']}", {**policy_body, "id": policies[0]["id"]})
        policy_id = policies[0]["id"]
    else:
        admin.post(f"{server}/policy/user", policy_body)
        policy_id = next(p["id"] for p in admin.get(f"{server}/policy", name=policy_name) if p["name"] == policy_name)
    group_id = admin.get(f"group-by-path/{quote(group_path.lstrip('/'))}")["id"]
    permission_name = f"thanh-vien-{unit_code}"
    body = {
        "name": permission_name,
        "description": f"Thành viên đơn vị {unit_code} và đơn vị trực thuộc",
        "resourceType": "Groups",
        "resources": [group_id],
        "scopes": list(MEMBER_SCOPES),
        "policies": [policy_id],
        "decisionStrategy": "UNANIMOUS",
    }
    existing = [p for p in admin.get(f"{server}/permission", name=permission_name) if p["name"] == permission_name]
    if existing:
        admin.put(f"{server}/permission/scope/{existing[0]['id']}", {**body, "id": existing[0]["id"]})
        permission_id: str = existing[0]["id"]
    else:
        admin.post(f"{server}/permission/scope", body)
        permission_id = next(
            p["id"] for p in admin.get(f"{server}/permission", name=permission_name) if p["name"] == permission_name
        )
    rm = admin.get("clients", clientId="realm-management")[0]["id"]
    roles = [admin.get(f"clients/{rm}/roles/{name}") for name in CONSOLE_ROLES]
    for user_id in admin_user_ids:
        admin.post(f"users/{user_id}/role-mappings/clients/{rm}", roles)
    return permission_id
