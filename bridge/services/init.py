"""``bridge init``: bring an empty deployment to a working one, in order, and again without harm.

Four steps, each idempotent, each answering with one line of what it found or did:

1. **store** — on PostgreSQL, create the application role (LOGIN, nothing else) when it is missing, with the
   owner's connection; run the migrations as the owner, which grant the application role DML and, on the audit
   ledger, INSERT and SELECT only; then check that the role holds exactly that (decision 0101). On SQLite, just
   the migrations.
2. **keycloak** — ``bridge keycloak apply``: the realm, its clients, role groups, the directory federation.
3. **console** — ``bridge console permissions``: each provincial administrator's FGAP v2 scope.
4. **admin** — the first IT Center administrator from the environment, when there is none yet; the person must
   be active in the official directory (they log in with that address).
5. **second-factor** — Keycloak's administrator group made equal to the administrators table, so every
   administrator, the first one included, must set up and give a TOTP code (decision 0600).

The steps are planned by :func:`init_steps` and run by the caller, so a command can say what starts before a
slow step (Keycloak) runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import select

from bridge.adapters.store import migrate, roles
from bridge.adapters.store.models import Administrator
from bridge.adapters.store.session import session_factory, transaction
from bridge.domain.policy import AdminRole
from bridge.errors import InvalidInput, PermanentError
from bridge.services import persons
from bridge.services.admin_second_factor import sync_administrator_group
from bridge.services.console import apply_console_permissions
from bridge.services.context import GovContext
from bridge.services.keycloak_config import apply_keycloak_config
from bridge.settings import Settings

STEPS: tuple[str, ...] = ("store", "keycloak", "console", "admin", "second-factor")


@dataclass(frozen=True)
class Step:
    """One step of ``bridge init``: its name, what it does, and the work (returning what it found or did)."""

    name: str
    title: str
    run: Callable[[], str]


def owner_url(settings: Settings) -> str:
    """The URL migrations run with: the owner's, or on SQLite the store's own."""
    configured = settings.init.owner_url
    return configured.get_secret_value() if configured is not None else settings.store.url


def prepare_store(settings: Settings) -> str:
    """Step 1: the application role (PostgreSQL), the migrations as the owner, least privilege checked."""
    store_url, owner = settings.store.url, owner_url(settings)
    if not roles.is_postgresql(store_url):
        before = migrate.current_revision(url=owner)
        migrate.upgrade(url=owner)
        return f"{_revisions(before, migrate.current_revision(url=owner))} (SQLite: no database roles)"
    role = settings.governance.db_app_role
    if not role:
        raise InvalidInput("set BRIDGE_GOVERNANCE__DB_APP_ROLE: the role the bridge connects as", field="db_app_role")
    if settings.init.owner_url is None:
        raise InvalidInput(
            "set BRIDGE_INIT__OWNER_URL: migrations run as the owner role, never as the application role",
            field="owner_url",
        )
    if not roles.is_postgresql(owner) or not roles.same_database(owner, store_url):
        raise InvalidInput("BRIDGE_INIT__OWNER_URL and BRIDGE_STORE__URL name different databases", field="owner_url")
    if roles.url_user(store_url) != role:
        raise InvalidInput(
            f"BRIDGE_STORE__URL connects as {roles.url_user(store_url)}, not as the application role {role}",
            field="db_app_role",
        )
    password = settings.init.app_role_password
    outcome = roles.ensure_app_role(owner, role, password.get_secret_value() if password is not None else None)
    before = migrate.current_revision(url=owner)
    migrate.upgrade(url=owner, app_role=role)
    after = migrate.current_revision(url=owner)
    tables, problems = roles.privilege_problems(owner, role)
    if problems:
        raise PermanentError(
            f"the application role {role} does not hold the privileges of decision 0101 "
            f"(a store migrated before the role existed?): {'; '.join(problems)}"
        )
    verb = "created" if outcome.created else "exists"
    return (
        f"role {role} {verb}; {_revisions(before, after)}; "
        f"least privilege on {tables} tables (ledger: SELECT, INSERT only)"
    )


def _revisions(before: str | None, after: str | None) -> str:
    if before == after:
        return f"store already at {after}"
    return f"store migrated {before or 'empty'} → {after}"


def apply_realm(settings: Settings, *, day: dt.date) -> str:
    """Step 2: ``keycloak apply`` (the realm as code)."""
    if not settings.keycloak.admin_password.get_secret_value():
        raise InvalidInput("set BRIDGE_KEYCLOAK__ADMIN_PASSWORD (Keycloak's bootstrap administrator)", field="admin")
    if not settings.keycloak.client_secret.get_secret_value():
        raise InvalidInput("set BRIDGE_KEYCLOAK__CLIENT_SECRET (the bridge's own client)", field="client_secret")
    result = apply_keycloak_config(settings, day=day)
    return "; ".join(
        f"realm {one.realm}: {len(one.changes)} change(s) applied" if one.changes else f"realm {one.realm}: no changes"
        for one in (result, *result.others)
    )


def scope_console(settings: Settings, *, day: dt.date) -> str:
    """Step 3: the FGAP v2 console scope of every provincial administrator in the store."""
    done = apply_console_permissions(settings, day=day)
    if not done:
        return "no provincial administrators yet"
    return f"{sum(done.values())} provincial administrator(s) scoped in {len(done)} unit(s)"


def ensure_first_admin(settings: Settings, context: Callable[[], GovContext]) -> str:
    """Step 4: appoint ``init.first_admin_email`` IT Center administrator, unless one exists already."""
    unit = settings.governance.it_center_unit
    with transaction(session_factory(settings.store.url)) as session:
        existing = session.scalars(
            select(Administrator.email)
            .where(Administrator.role == AdminRole.IT_CENTER_ADMIN.value)
            .order_by(Administrator.email)
        ).all()
        if existing:
            return f"skipped: IT Center administrator(s) already: {', '.join(existing)}"
        email = settings.init.first_admin_email
        if not email:
            raise InvalidInput(
                "no IT Center administrator yet: set BRIDGE_INIT__FIRST_ADMIN_EMAIL", field="first_admin_email"
            )
        ctx = context()
        person = ctx.directory.find(email)
        if person is None or not person.active:
            raise InvalidInput(
                f"{email} is not an active person of the official directory: they could not log in",
                field="first_admin_email",
            )
        admin = persons.appoint_administrator(
            session, ctx=ctx, actor=None, email=email, role=AdminRole.IT_CENTER_ADMIN, unit_code=unit
        )
    return f"{admin.email} appointed IT Center administrator of unit {unit} (ledger: admin.appoint, bootstrap)"


def require_second_factor(settings: Settings) -> str:
    """Step 5: the administrator group follows the administrators table (the realm makes its members use TOTP)."""
    result = sync_administrator_group(settings)
    return "no administrators section in realm.yaml" if result is None else result.describe()


def init_steps(
    settings: Settings,
    *,
    day: dt.date,
    context: Callable[[], GovContext],
    only: Iterable[str] | None = None,
) -> list[Step]:
    """The steps of ``bridge init`` in their order; ``only`` keeps some of them (order unchanged).

    ``context`` builds the decision context (unit tree, catalogue, official directory); it is called only when
    the first administrator is appointed."""
    chosen = set(STEPS if only is None else only)
    if unknown := sorted(chosen - set(STEPS)):
        raise InvalidInput(f"unknown step(s) {', '.join(unknown)}; steps: {', '.join(STEPS)}", field="only")
    steps = [
        Step("store", "database: application role, migrations, least privilege", lambda: prepare_store(settings)),
        Step("keycloak", "keycloak apply: the realm from keycloak-config/", lambda: apply_realm(settings, day=day)),
        Step("console", "console permissions: provincial administrators", lambda: scope_console(settings, day=day)),
        Step("admin", "first IT Center administrator", lambda: ensure_first_admin(settings, context)),
        Step("second-factor", "administrators must use TOTP", lambda: require_second_factor(settings)),
    ]
    return [step for step in steps if step.name in chosen]
