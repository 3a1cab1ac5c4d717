"""Fine-grained admin permissions v2 for the Keycloak console: what a provincial administrator may do there.

- Per province, on the province's unit group, for the province's administrators (one user policy each):
  ``view``, ``view-members``, ``manage-members`` (the people of the province and its branches),
  ``manage-membership`` (moves between its unit groups) and ``manage-membership-of-members`` (Keycloak's
  ``manage-group-membership`` on those people: whose groups they may change).
- Once, on the application role groups a provincial administrator may grant (below administrator level: Quy chế
  2366 Điều 6 and R10), for every provincial administrator: ``view`` and ``manage-membership``.
Adding someone to a group needs both sides, so an administrator can put their own province's people into these
role groups, and nobody else, and into no other group. The role-group permission is one for all provinces
because Keycloak decides admin permissions unanimously: with one permission per province on the same role group,
every province's permission but one would deny (measured, docs/decisions/0501).

Keycloak refuses the rest (403). What v2 does not cover for federated users, and anyone holding a legacy
realm-management role, is handled by the admin-event watcher (docs/decisions/0003, 0005, 0501). A v2
permission without resources applies to every resource of its type, so a permission is never written with an
empty resource list: it is deleted instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from bridge.adapters.keycloak.admin import KeycloakAdmin

MEMBER_SCOPES = ("view", "view-members", "manage-members", "manage-membership", "manage-membership-of-members")
ROLE_GROUP_SCOPES = ("view", "manage-membership")
CONSOLE_ROLES = ("query-users", "query-groups")
PROVINCE_ADMINS_POLICY = "quan-tri-tinh"
ROLE_GROUPS_PERMISSION = "cap-quyen-ung-dung"


def group_ids(admin: KeycloakAdmin, paths: Sequence[str]) -> list[str]:
    """Ids of the groups at ``paths`` (each must exist)."""
    return [str(admin.get(f"group-by-path/{quote(path.lstrip('/'))}")["id"]) for path in paths]


def _named(admin: KeycloakAdmin, collection: str, name: str) -> dict[str, str] | None:
    found = [p for p in admin.get(collection, name=name) or [] if p["name"] == name]
    return found[0] if found else None


def _upsert(admin: KeycloakAdmin, server: str, kind: str, body: dict[str, Any]) -> str:
    """Create or update the ``kind`` (``policy/user``, ``permission/scope``) named ``body["name"]``; its id."""
    collection = f"{server}/{kind.split('/')[0]}"
    existing = _named(admin, collection, body["name"])
    if existing:
        admin.put(f"{server}/{kind}/{existing['id']}", {**body, "id": existing["id"]})
        return existing["id"]
    admin.post(f"{server}/{kind}", body)
    created = _named(admin, collection, body["name"])
    assert created is not None
    return created["id"]


def _ensure_policy(admin: KeycloakAdmin, server: str, *, name: str, description: str, user_ids: list[str]) -> str:
    body = {"name": name, "description": description, "users": user_ids, "logic": "POSITIVE"}
    return _upsert(admin, server, "policy/user", body)


def _drop_permission(admin: KeycloakAdmin, server: str, name: str) -> None:
    existing = _named(admin, f"{server}/permission", name)
    if existing:
        admin.delete(f"{server}/permission/{existing['id']}")


def _ensure_permission(
    admin: KeycloakAdmin, server: str, *, name: str, description: str, resources: list[str],
    scopes: Sequence[str], policy_id: str,
) -> str | None:  # fmt: skip
    """Create or update one group permission; with no resources, delete it (never "all groups")."""
    if not resources:
        _drop_permission(admin, server, name)
        return None
    body = {
        "name": name, "description": description, "resourceType": "Groups", "resources": resources,
        "scopes": list(scopes), "policies": [policy_id], "decisionStrategy": "UNANIMOUS",
    }  # fmt: skip
    return _upsert(admin, server, "permission/scope", body)


def _server(admin: KeycloakAdmin) -> str:
    apc = admin.get("clients", clientId="admin-permissions")[0]["id"]
    return f"clients/{apc}/authz/resource-server"


def _console_roles(admin: KeycloakAdmin, user_ids: Sequence[str]) -> None:
    rm = admin.get("clients", clientId="realm-management")[0]["id"]
    roles = [admin.get(f"clients/{rm}/roles/{name}") for name in CONSOLE_ROLES]
    for user_id in user_ids:
        admin.post(f"users/{user_id}/role-mappings/clients/{rm}", roles)


def ensure_province_console_scope(
    admin: KeycloakAdmin, *, unit_code: str, group_path: str, admin_user_ids: list[str]
) -> str:
    """Create or update one province's user policy and unit-group permission; returns the permission's id."""
    server = _server(admin)
    policy_id = _ensure_policy(
        admin, server, name=f"quan-tri-{unit_code}", description=f"Quản trị viên đơn vị {unit_code}",
        user_ids=admin_user_ids,
    )  # fmt: skip
    (unit_group,) = group_ids(admin, [group_path])
    permission_id = _ensure_permission(
        admin, server, name=f"thanh-vien-{unit_code}",
        description=f"Thành viên đơn vị {unit_code} và đơn vị trực thuộc", resources=[unit_group],
        scopes=MEMBER_SCOPES, policy_id=policy_id,
    )  # fmt: skip
    _console_roles(admin, admin_user_ids)
    assert permission_id is not None
    return permission_id


def ensure_role_group_scope(admin: KeycloakAdmin, *, admin_user_ids: list[str], role_group_ids: Sequence[str]) -> None:
    """Let every provincial administrator (``admin_user_ids``) manage the membership of the role groups
    ``role_group_ids``; with no administrators or no role groups, the permission is removed."""
    server = _server(admin)
    if not admin_user_ids or not role_group_ids:
        _drop_permission(admin, server, ROLE_GROUPS_PERMISSION)
        return
    policy_id = _ensure_policy(
        admin, server, name=PROVINCE_ADMINS_POLICY, description="Quản trị viên BHXH tỉnh / provincial administrators",
        user_ids=admin_user_ids,
    )  # fmt: skip
    _ensure_permission(
        admin, server, name=ROLE_GROUPS_PERMISSION,
        description="Nhóm quyền ứng dụng dưới mức quản trị, do BHXH tỉnh cấp cho người của tỉnh mình",
        resources=list(role_group_ids), scopes=ROLE_GROUP_SCOPES, policy_id=policy_id,
    )  # fmt: skip
