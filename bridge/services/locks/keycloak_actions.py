"""What a lock does to Keycloak, and the checks that prove it (Công văn 907: checked, not assumed).

Each action is idempotent (disable, log out, leave a group, re-enable, re-join) so a retried or re-claimed job
converges; each ends with a read-back of the account: ``enabled``, the user's sessions, and the user's offline
sessions for every registered application client. ``POST users/{id}/logout`` removes every session of the user
and makes Keycloak send the OIDC back-channel logout to each application that registered a URL. A refresh
token needs both an enabled user and a live session, so "disabled + zero sessions + zero offline sessions" is
what "refresh refused" rests on (the integration tests refuse a real refresh token to show it).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bridge.adapters.keycloak.admin import KeycloakAdmin
from bridge.adapters.keycloak.users import afind_user_ids
from bridge.domain.catalogue import parse_role_group_path
from bridge.errors import NotFound, TransientError

VERIFY_ROUNDS = 3


@dataclass
class KeycloakLocks:
    """Lock, transfer, reinstate and role-group membership actions on one realm, with cached group ids."""

    admin: KeycloakAdmin
    _group_ids: dict[str, str] = field(default_factory=dict)

    async def user_id(self, email: str) -> str:
        """The Keycloak id of ``email`` (an exact search imports the person from the directory on first sight)."""
        found = await self.find_user_id(email)
        if found is None:
            raise TransientError(f"{email}: 0 Keycloak users found, expected 1", delay=30)
        return found

    async def known_user_id(self, email: str, user_id: str | None) -> str:
        """``user_id`` when a job already recorded it, else the id looked up by e-mail."""
        return user_id or await self.user_id(email)

    async def find_user_id(self, email: str) -> str | None:
        """The Keycloak id of ``email`` by the import lookup, or None when neither Keycloak nor the directory
        knows the address; more than one match is an error worth retrying (an operator must look)."""
        ids = await afind_user_ids(self.admin, email)
        if len(ids) > 1:
            raise TransientError(f"{email}: {len(ids)} Keycloak users found, expected 1", delay=30)
        return ids[0] if ids else None

    async def set_membership(self, user_id: str, path: str, *, member: bool) -> list[str]:
        """Join (``member``) or leave one role group, then read the user's role groups back to check it."""
        group = await self._group_id(path)
        if member:
            await self.admin.aput(f"users/{user_id}/groups/{group}", {})
        else:
            with contextlib.suppress(NotFound):
                await self.admin.adelete(f"users/{user_id}/groups/{group}")
        held = await self.role_groups(user_id)
        if (path in held) != member:
            raise TransientError(f"user {user_id}: {path} membership is {not member} after the change", delay=5)
        return held

    async def join_group(self, user_id: str, path: str) -> None:
        """Join any group by path (an exception account's unit group); joining twice changes nothing."""
        await self.admin.aput(f"users/{user_id}/groups/{await self._group_id(path)}", {})

    async def role_groups(self, user_id: str) -> list[str]:
        """Paths of the application role groups (under ``/apps``) the user belongs to."""
        groups = await self.admin.aget(f"users/{user_id}/groups", briefRepresentation="true", max="1000")
        return sorted(str(g["path"]) for g in groups or [] if parse_role_group_path(str(g["path"])) is not None)

    async def _group_id(self, path: str) -> str:
        if path not in self._group_ids:
            group = await self.admin.aget(f"group-by-path/{path.lstrip('/')}")
            self._group_ids[path] = str(group["id"])
        return self._group_ids[path]

    async def observe(self, user_id: str) -> dict[str, Any]:
        """The account as Keycloak shows it now: enabled, sessions, clients holding offline tokens.

        Offline sessions are read from ``users/{id}/consents``, which lists every client holding an offline
        token of the user ("Offline Token" grant) and needs only view-users, not a client listing.
        """
        user, sessions, consents = await asyncio.gather(
            self.admin.aget(f"users/{user_id}"),
            self.admin.aget(f"users/{user_id}/sessions"),
            self.admin.aget(f"users/{user_id}/consents"),
        )
        offline = sorted(
            str(c.get("clientId"))
            for c in consents or []
            if any(g.get("key") == "Offline Token" for g in c.get("additionalGrants") or [])
        )
        return {
            "user_id": user_id,
            "enabled": bool(user["enabled"]),
            "sessions": len(sessions or []),
            "offline_sessions": len(offline),
            "offline_clients": offline,
            "checked_at": dt.datetime.now(dt.UTC).isoformat(),
        }

    async def lock(self, user_id: str) -> dict[str, Any]:
        """Disable the user, then end every session (back-channel logout goes out), and verify; the proof.

        One call after the other, never both at once: Keycloak's logout stores the user's ``notBefore`` by writing
        the whole user row it loaded when the request began, so a logout that loaded the row before a concurrent
        disable committed writes ``enabled: true`` back (a lost update; 21 of 110 disables sent together with a
        logout were lost on Keycloak 26.7.3, docs/decisions/0810). Disabled first, nobody can log in before the
        logout; a read-back that still shows the account enabled or a session repeats both.
        """
        for attempt in range(1, VERIFY_ROUNDS + 1):
            await self.admin.aput(f"users/{user_id}", {"enabled": False})
            await self.admin.apost(f"users/{user_id}/logout", {})
            seen = await self.observe(user_id)
            if not seen["enabled"] and seen["sessions"] == 0 and seen["offline_sessions"] == 0:
                return {**seen, "verify_round": attempt, "refresh_possible": False}
        raise TransientError(f"user {user_id} still shows {seen} after {VERIFY_ROUNDS} rounds", delay=5)

    async def end_role_groups(self, user_id: str, paths: Iterable[str]) -> dict[str, Any]:
        """Leave the given role groups and end the sessions that carry them (transfer); verify."""
        paths = sorted(paths)
        for path in paths:
            try:
                await self.admin.adelete(f"users/{user_id}/groups/{await self._group_id(path)}")
            except NotFound:
                continue
        await self.admin.apost(f"users/{user_id}/logout", {})
        left = set(await self.role_groups(user_id)) & set(paths)
        seen = await self.observe(user_id)
        if left or seen["sessions"]:
            raise TransientError(f"user {user_id} still in {sorted(left)} or has sessions", delay=5)
        return {**seen, "role_groups_ended": paths}

    async def reinstate(self, user_id: str, paths: Iterable[str]) -> dict[str, Any]:
        """Re-join the role groups held before the lock and re-enable the account; verify."""
        paths = sorted(paths)
        for path in paths:
            await self.admin.aput(f"users/{user_id}/groups/{await self._group_id(path)}", {})
        await self.admin.aput(f"users/{user_id}", {"enabled": True})
        held = set(await self.role_groups(user_id))
        seen = await self.observe(user_id)
        if not seen["enabled"] or not set(paths) <= held:
            raise TransientError(f"user {user_id} not back: enabled={seen['enabled']}, missing "
                                 f"{sorted(set(paths) - held)}", delay=5)  # fmt: skip
        return {**seen, "role_groups": sorted(held)}
