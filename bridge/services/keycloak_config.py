"""Service behind ``bridge keycloak apply``: load keycloak-config/, read the realm, plan, apply.

The configuration files are validated completely before Keycloak is even contacted, so a broken
``units.yaml`` is refused with its line numbers and nothing is written.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from bridge.adapters.keycloak.admin import KeycloakAdmin
from bridge.domain.catalogue import load_applications
from bridge.domain.realm_plan import (
    Change,
    ConsoleClient,
    DesiredRealm,
    LdapConnection,
    SmtpConnection,
    desired_realm,
    plan_realm,
)
from bridge.domain.units import UnitTree, load_units
from bridge.errors import PermanentError
from bridge.services.realm_apply import apply_realm_changes, read_realm
from bridge.settings import Settings

MAX_PASSES = 3


@dataclass(frozen=True)
class ConfigResult:
    """The plan of one ``apply`` and whether it was applied."""

    realm: str
    changes: list[Change]
    applied: bool
    #: The same for every other realm units.yaml assigns units to (service providers; docs/decisions/0702).
    others: tuple[ConfigResult, ...] = ()

    @property
    def all_changes(self) -> int:
        """Changes planned or applied in every realm."""
        return len(self.changes) + sum(len(o.changes) for o in self.others)


def bootstrap_admin(settings: Settings, realm: str) -> KeycloakAdmin:
    """Admin REST as the master realm's bootstrap administrator (only to create and configure the realm)."""
    kc = settings.keycloak
    return KeycloakAdmin(
        server_url=kc.url,
        realm=realm,
        username=kc.admin_username,
        password=kc.admin_password.get_secret_value(),
        auth_realm="master",
        verify=kc.verify_tls,
    )


def load_realm_units(settings: Settings) -> UnitTree:
    """units.yaml as this deployment uses it. A deployment whose realm is not units.yaml's default (tests and
    benchmarks give each module or run its own realm) keeps every unit in that one realm."""
    return load_units(settings.keycloak.config_dir / "units.yaml").deployed_as(settings.keycloak.realm)


def load_desired(settings: Settings, *, day: dt.date, realm: str | None = None) -> DesiredRealm:
    """The desired realm (the default, or ``realm``) from keycloak-config/ and the settings (validated before
    any network call)."""
    cfg = settings.keycloak.config_dir
    units = load_realm_units(settings)
    apps = load_applications(cfg / "applications.yaml")
    directory = settings.directory
    return desired_realm(
        realm_yaml=(cfg / "realm.yaml").read_text(encoding="utf-8"),
        units=units,
        apps=apps,
        ldap=LdapConnection(
            url=directory.url,
            bind_dn=directory.bind_dn,
            bind_credential=directory.bind_password.get_secret_value(),
            users_dn=directory.people_base,
            start_tls=directory.start_tls,
        ),
        bridge_client_id=settings.keycloak.client_id,
        bridge_client_secret=settings.keycloak.client_secret.get_secret_value(),
        day=day,
        console=ConsoleClient(base_url=settings.ui.base_url, secret=settings.ui.client_secret.get_secret_value()),
        smtp=SmtpConnection(
            host=settings.keycloak.smtp_host,
            port=settings.keycloak.smtp_port,
            user=settings.keycloak.smtp_user,
            password=settings.keycloak.smtp_password.get_secret_value(),
        ),
        realm_name=realm,
    )


def apply_keycloak_config(
    settings: Settings,
    *,
    day: dt.date,
    dry_run: bool = False,
    progress: Callable[[Change], None] | None = None,
) -> ConfigResult:
    """Plan every realm (the default one, then those units.yaml assigns units to) and, unless ``dry_run``,
    apply each plan. Every realm is validated before Keycloak is contacted."""
    names = load_realm_units(settings).realm_names()
    desired = [load_desired(settings, day=day, realm=name) for name in names]
    results = [_apply_one(settings, one, dry_run=dry_run, progress=progress) for one in desired]
    return dataclasses.replace(results[0], others=tuple(results[1:]))


def _apply_one(
    settings: Settings,
    desired: DesiredRealm,
    *,
    dry_run: bool,
    progress: Callable[[Change], None] | None,
) -> ConfigResult:
    admin = bootstrap_admin(settings, desired.name)
    changes = plan_realm(desired, read_realm(admin, desired))
    if dry_run or not changes:
        return ConfigResult(realm=desired.name, changes=changes, applied=False)
    applied: list[Change] = []
    # Creating the realm or a client makes Keycloak add defaults (scopes, mappers) that only a second look
    # can plan against; a correct configuration converges in at most three passes.
    for _ in range(MAX_PASSES):
        apply_realm_changes(admin, desired, changes, progress=progress)
        applied.extend(changes)
        changes = plan_realm(desired, read_realm(admin, desired))
        if not changes:
            return ConfigResult(realm=desired.name, changes=applied, applied=True)
    raise PermanentError(f"realm {desired.name} does not converge; still: {[c.describe() for c in changes]}")
