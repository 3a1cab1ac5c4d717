"""What an account review (rà soát) needs from Keycloak, read in bulk with the bridge's service account.

Users are read in pages of the largest size and group members by group — never one call per user to read
state; only administrators' credentials and the sessions of suspects of account sharing (a handful of
accounts) are read one user at a time, because the bridge's least-privilege account can list them nowhere
else. LOGIN events are read page by page for ingestion into the
store (Keycloak expires them; the ledger-side copy is what "unused for N days" reads).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from bridge.adapters.keycloak.admin import KeycloakAdmin
from bridge.errors import NotFound

PAGE = 500
SECOND_FACTORS = frozenset({"otp", "webauthn", "webauthn-passwordless"})


@dataclass(frozen=True)
class KcUser:
    """A Keycloak user as the review reads it."""

    id: str
    username: str
    email: str
    enabled: bool
    created: dt.datetime
    unit_code: str = ""
    totp: bool = False
    required_actions: tuple[str, ...] = ()


@dataclass(frozen=True)
class KcSession:
    """A live user session: who, from which address, through which clients."""

    id: str
    user_id: str
    username: str
    ip_address: str
    clients: tuple[str, ...] = ()


@dataclass
class AccountFacts:
    """Everything the review reads from Keycloak, gathered at one moment."""

    users: list[KcUser]
    #: (application, role group) → user ids in the application's role group.
    memberships: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    sessions: list[KcSession] = field(default_factory=list)
    #: user id → credential types, read for administrator accounts only.
    credentials: dict[str, set[str]] = field(default_factory=dict)


def _paged(admin: KeycloakAdmin, path: str, **params: Any) -> Iterator[dict[str, Any]]:
    first = 0
    while True:
        page = admin.get(path, first=first, max=PAGE, **params) or []
        yield from page
        if len(page) < PAGE:
            return
        first += PAGE


def _user(raw: dict[str, Any]) -> KcUser:
    attributes = raw.get("attributes") or {}
    unit = (attributes.get("unit_code") or [""])[0]
    return KcUser(
        id=raw["id"],
        username=raw.get("username", ""),
        email=str(raw.get("email") or raw.get("username") or "").lower(),
        enabled=bool(raw.get("enabled")),
        created=dt.datetime.fromtimestamp((raw.get("createdTimestamp") or 0) / 1000, dt.UTC),
        unit_code=str(unit),
        totp=bool(raw.get("totp")),
        required_actions=tuple(raw.get("requiredActions") or ()),
    )


def read_users(admin: KeycloakAdmin) -> list[KcUser]:
    """Every user of the realm (service-account users left out)."""
    return [
        _user(raw)
        for raw in _paged(admin, "users", briefRepresentation="false")
        if not str(raw.get("username", "")).startswith("service-account-")
    ]


def read_memberships(
    admin: KeycloakAdmin, role_groups: Iterable[tuple[str, str]], *, path_of: Callable[[str, str], str]
) -> dict[tuple[str, str], set[str]]:
    """Members of each application role group, found by its Keycloak group path ``path_of(application, role
    group)`` (the domain's :func:`bridge.domain.catalogue.role_group_path`, passed in: adapters sit below it)."""
    found: dict[tuple[str, str], set[str]] = {}
    for app, role in role_groups:
        try:
            group = admin.get(f"group-by-path/{path_of(app, role).lstrip('/')}")
        except NotFound:  # a role group not (yet) in the realm has no members
            found[(app, role)] = set()
            continue
        members = _paged(admin, f"groups/{group['id']}/members", briefRepresentation="true")
        found[(app, role)] = {m["id"] for m in members}
    return found


def read_sessions(admin: KeycloakAdmin, user_ids: Iterable[str]) -> list[KcSession]:
    """Live sessions of the given users.

    Keycloak lists sessions in bulk only per client, which needs ``view-clients``; the bridge's account has
    ``view-users`` only, so sessions are read per user — for the few suspects the stored LOGIN events name
    (several addresses within one session lifespan), never for everyone.
    """
    sessions: list[KcSession] = []
    for uid in user_ids:
        for raw in admin.get(f"users/{uid}/sessions") or []:
            sessions.append(
                KcSession(
                    id=raw["id"], user_id=raw.get("userId", uid), username=str(raw.get("username", "")).lower(),
                    ip_address=raw.get("ipAddress", ""), clients=tuple(sorted((raw.get("clients") or {}).values())),
                )
            )  # fmt: skip
    return sorted(sessions, key=lambda s: s.id)


def read_credentials(admin: KeycloakAdmin, user_ids: Iterable[str]) -> dict[str, set[str]]:
    """Credential types (password, otp, webauthn …) of the given users."""
    return {uid: {c.get("type", "") for c in admin.get(f"users/{uid}/credentials") or []} for uid in user_ids}


def read_login_events(admin: KeycloakAdmin, *, since: dt.date | None = None) -> Iterator[dict[str, Any]]:
    """LOGIN events, newest first as Keycloak returns them, from ``since`` on."""
    params: dict[str, Any] = {"type": "LOGIN"}
    if since is not None:
        params["dateFrom"] = since.isoformat()
    yield from _paged(admin, "events", **params)


def read_account_facts(
    admin: KeycloakAdmin,
    *,
    role_groups: Iterable[tuple[str, str]],
    session_suspects: Iterable[str],
    admin_emails: Iterable[str],
    admin_role_groups: Iterable[tuple[str, str]],
    path_of: Callable[[str, str], str],
) -> AccountFacts:
    """Users, role-group members, live sessions of suspects, and the credentials of administrator accounts."""
    users = read_users(admin)
    memberships = read_memberships(admin, role_groups, path_of=path_of)
    emails = set(admin_emails)
    admin_ids = {u.id for u in users if u.email in emails}
    for pair in admin_role_groups:
        admin_ids |= memberships.get(pair, set())
    return AccountFacts(
        users=users,
        memberships=memberships,
        sessions=read_sessions(admin, sorted(set(session_suspects))),
        credentials=read_credentials(admin, sorted(admin_ids)),
    )
