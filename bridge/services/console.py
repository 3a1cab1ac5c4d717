"""Services behind ``bridge console permissions`` and ``bridge console watch``.

Permissions are deployment-time configuration (the bootstrap administrator writes them, like ``keycloak
apply``); the watcher runs with the bridge's own least-privilege service account (``view-events``,
``manage-users``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bridge.adapters.directory.lookup import DirectoryLookup
from bridge.adapters.keycloak.admin import service_account_admin
from bridge.adapters.keycloak.console_permissions import (
    ensure_province_console_scope,
    ensure_role_group_scope,
    group_ids,
)
from bridge.adapters.keycloak.users import find_user_ids
from bridge.adapters.store.models import Administrator
from bridge.adapters.store.session import session_factory
from bridge.domain.catalogue import role_group_path
from bridge.domain.policy import ROLE_LEVEL, AdminRole
from bridge.domain.role_levels import load_catalogue
from bridge.domain.units import load_units
from bridge.services.console_watcher import ConsoleWatcher
from bridge.services.context import build_context, directory_for
from bridge.services.keycloak_config import bootstrap_admin
from bridge.settings import Settings


def apply_console_permissions(settings: Settings, *, day: dt.date) -> dict[str, int]:
    """FGAP v2 permissions for each province with administrators in the store: its people (unit group) and the
    application role groups below administrator level it may grant them; returns administrators per unit."""
    units = load_units(settings.keycloak.config_dir / "units.yaml")
    catalogue = load_catalogue(settings.keycloak.config_dir / "applications.yaml")
    grantable = catalogue.role_groups_below(ROLE_LEVEL[AdminRole.PROVINCE_ADMIN])
    with session_factory(settings.store.url)() as session:
        admins = session.scalars(
            select(Administrator).where(Administrator.role == AdminRole.PROVINCE_ADMIN.value)
        ).all()
    by_unit: dict[str, list[str]] = {}
    for row in admins:
        by_unit.setdefault(row.unit_code, []).append(row.email)
    admin = bootstrap_admin(settings, settings.keycloak.realm)  # the configured realm, as keycloak apply uses it
    done: dict[str, int] = {}
    everyone: list[str] = []
    for unit_code, emails in by_unit.items():
        user_ids = [user_id for email in emails for user_id in find_user_ids(admin, email)]
        if user_ids:
            ensure_province_console_scope(
                admin, unit_code=unit_code, group_path=units.group_path(unit_code, day), admin_user_ids=user_ids
            )
            done[unit_code] = len(user_ids)
            everyone += user_ids
    role_groups = group_ids(admin, [role_group_path(app, role) for app, role in grantable])
    ensure_role_group_scope(admin, admin_user_ids=everyone, role_group_ids=role_groups)
    return done


def build_watcher(
    settings: Settings, *, directory: DirectoryLookup | None = None, realm: str | None = None
) -> ConsoleWatcher:
    """A watcher of one realm (default: the configured one, as the sync and keycloak apply use it; the others
    units.yaml assigns units to are watched by their own, docs/decisions/0702) reading admin events as the
    bridge's service account, ignoring the bridge's own changes, and judging them against the official
    directory (default: the one decisions read, :func:`directory_for`)."""
    admin = service_account_admin(settings.keycloak, realm=realm)
    # the bridge's own changes (sync, locks) are ledgered where they are made
    ignore = frozenset({admin.own_user_id()})
    return ConsoleWatcher(
        admin=admin,
        sessions=session_factory(settings.store.url),
        ctx=build_context(settings, directory=directory or directory_for(settings)),
        ignore_user_ids=ignore,
    )
