"""Finding a Keycloak user by e-mail: one query and one rule for which answers count, sync and async.

The sync engine, the lock and grant workers and the console permissions all look people up this way. Keycloak's
``users?email=…&exact=true`` search also asks the user federation, so the first lookup of a person imports them
from the directory. Its answer is filtered once more here — exact e-mail match, compared NFC and lower-case as
everywhere in the bridge — so a lookup never takes someone else's account. How many matches are acceptable is
the caller's to say (the sync takes the first, a lock wants exactly one).
"""

from __future__ import annotations

from typing import Any

from bridge.adapters.directory.lookup import normalise_email
from bridge.adapters.keycloak.admin import KeycloakAdmin


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
