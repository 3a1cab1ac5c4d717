"""Finding a Keycloak user by e-mail: one query and one rule for which answers count, sync and async.

The sync engine, the lock and grant workers and the console permissions all look people up this way. Keycloak's
``users?email=…&exact=true`` search also asks the user federation, so the first lookup of a person imports them
from the directory. Its answer is filtered once more here — exact e-mail match, compared NFC and lower-case as
everywhere in the bridge — so a lookup never takes someone else's account. How many matches are acceptable is
the caller's to say (the sync takes the first, a lock wants exactly one). An approved exception account is the
one user the bridge creates itself: a local account, whose password the person sets from Keycloak's own e-mail.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from bridge.adapters.directory.lookup import normalise_email
from bridge.adapters.keycloak.admin import KeycloakAdmin
from bridge.errors import Conflict


def user_query(email: str) -> dict[str, str]:
    """Query parameters of the exact e-mail search (brief representations: only the id is needed)."""
    return {"email": email, "exact": "true", "briefRepresentation": "true"}


def matching_ids(found: list[dict[str, Any]] | None, email: str) -> list[str]:
    """Ids of the users in a search answer whose e-mail is ``email`` (NFC, lower-case), in Keycloak's order."""
    wanted = normalise_email(email)
    return [str(u["id"]) for u in found or [] if normalise_email(str(u.get("email") or "")) == wanted]


def find_user_ids(admin: KeycloakAdmin, email: str) -> list[str]:
    """Ids of the users with this e-mail (the search imports the person from the directory on first sight)."""
    return matching_ids(admin.get("users", **user_query(email)), email)


async def afind_user_ids(admin: KeycloakAdmin, email: str) -> list[str]:
    """Async :func:`find_user_ids`."""
    return matching_ids(await admin.aget("users", **user_query(email)), email)


def local_user(*, email: str, first_name: str, last_name: str, unit_code: str) -> dict[str, Any]:
    """The representation of a local (not federated) account: the e-mail as username, verified (the approval
    names it), enabled, with the unit as the managed attribute the tokens carry."""
    email = normalise_email(email)
    return {
        "username": email, "email": email, "firstName": first_name, "lastName": last_name, "enabled": True,
        "emailVerified": True, "attributes": {"unit_code": [unit_code]},
    }  # fmt: skip


async def acreate_local_user(admin: KeycloakAdmin, representation: dict[str, Any]) -> str:
    """Create a local account (the realm's federation does not take registrations, so it stays in Keycloak), or
    find the one that exists; its id. Keycloak answers 409 for an existing username or e-mail."""
    email = str(representation["email"])
    try:
        created = await admin.apost("users", representation)
    except Conflict:
        created = None
    if created:
        return created
    ids = await afind_user_ids(admin, email)
    if len(ids) != 1:
        raise Conflict(f"{email}: {len(ids)} Keycloak users after creating it", field="email")
    return ids[0]


async def asend_required_actions(
    admin: KeycloakAdmin, user_id: str, actions: list[str], *, lifespan_s: int, client_id: str | None = None,
    redirect_uri: str | None = None,
) -> None:  # fmt: skip
    """Ask Keycloak to e-mail the user a link to its own required actions (``UPDATE_PASSWORD`` …), valid for
    ``lifespan_s`` seconds; Keycloak sends it through the realm's SMTP settings."""
    query = f"lifespan={int(lifespan_s)}"
    if client_id and redirect_uri:
        query += f"&client_id={quote(client_id)}&redirect_uri={quote(redirect_uri, safe='')}"
    await admin.aput(f"users/{user_id}/execute-actions-email?{query}", actions)
