"""Administrators must use a second factor: the bridge keeps Keycloak's administrator group equal to its rows.

The realm (``keycloak-config/realm.yaml`` → ``administrators``, applied by ``bridge keycloak apply``) gives the
group a realm role, and the browser flow asks every holder of that role for a TOTP code, setting one up on the
first login (docs/decisions/0600). Who is an administrator is the bridge's ``administrators`` table, so this
service makes the group follow it: everyone with a row is a member, nobody else is (a member added by hand in the
console is taken out again). ``bridge init`` runs it after appointing the first administrator, ``bridge keycloak
apply`` after the realm, and the worker on its interval, so an appointment made through the API is enforced at
that person's next login. Each membership change is a ledger row (access is concerned).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from urllib.parse import quote

import yaml
from sqlalchemy import select

from bridge.adapters.keycloak.admin import KeycloakAdmin, service_account_admin
from bridge.adapters.keycloak.users import find_user_ids
from bridge.adapters.store import ledger
from bridge.adapters.store.models import Administrator
from bridge.adapters.store.session import session_factory, transaction
from bridge.domain.rules import Rule
from bridge.errors import NotFound
from bridge.settings import Settings

ACTOR = "bhxh-bridge"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AdminGroupSync:
    """What one run changed: e-mails put into the group, taken out, and rows with no Keycloak user yet."""

    group: str
    added: tuple[str, ...]
    removed: tuple[str, ...]
    without_user: tuple[str, ...]

    def describe(self) -> str:
        return (f"{self.group}: {len(self.added)} added, {len(self.removed)} removed"
                + (f", not in Keycloak yet: {', '.join(self.without_user)}" if self.without_user else ""))  # fmt: skip


def administrator_group(settings: Settings) -> str | None:
    """The group path of realm.yaml's ``administrators`` section (None: no second factor configured)."""
    spec = yaml.safe_load((settings.keycloak.config_dir / "realm.yaml").read_text(encoding="utf-8"))
    admins = spec.get("administrators") or {}
    return str(admins["group"]) if admins else None


def sync_administrator_group(settings: Settings, *, admin: KeycloakAdmin | None = None) -> AdminGroupSync | None:
    """Make the administrator group's members exactly the people of the ``administrators`` table."""
    path = administrator_group(settings)
    if path is None:
        return None
    admin = admin or service_account_admin(settings.keycloak)
    factory = session_factory(settings.store.url)
    with factory() as session:
        wanted = {e.lower() for e in session.scalars(select(Administrator.email))}
    try:
        group_id = str(admin.get(f"group-by-path/{quote(path.lstrip('/'))}")["id"])
    except NotFound:
        log.warning("no group %s in realm %s: run bridge keycloak apply", path, admin.realm)
        return None
    members = {
        str(u["id"]): str(u.get("email") or u.get("username", "")).lower()
        for u in admin.get(f"groups/{group_id}/members", max=-1, briefRepresentation="true")
    }
    present = set(members.values())
    added: list[str] = []
    missing: list[str] = []
    for email in sorted(wanted - present):
        ids = find_user_ids(admin, email)  # imports the person from the directory on first sight
        if not ids:
            missing.append(email)
            continue
        for user_id in ids:
            admin.put(f"users/{user_id}/groups/{group_id}", {})
        added.append(email)
    removed = sorted({(uid, email) for uid, email in members.items() if email not in wanted})
    for user_id, _email in removed:
        admin.delete(f"users/{user_id}/groups/{group_id}")
    result = AdminGroupSync(path, tuple(added), tuple(sorted({e for _, e in removed})), tuple(missing))
    if result.added or result.removed:
        now = dt.datetime.now(dt.UTC)
        with transaction(factory) as session:
            for action, emails in (("admin.second_factor.require", result.added),
                                   ("admin.second_factor.release", result.removed)):  # fmt: skip
                for email in emails:
                    ledger.append(session, actor=ACTOR, action=action, target=f"person:{email}", outcome="allowed",
                                  rule=Rule.R17_ADMIN_SECOND_FACTOR, detail={"group": path}, at=now)  # fmt: skip
    return result
