"""Lock and role-group actions across realms (docs/decisions/0702): a person's account lives in the realm of
their unit (units.yaml ``realm``: service providers in ``bhxh-doitac``), so the scheduler's and the grant
worker's Keycloak actions go to that realm.

The realm is chosen once per person, from their unit in the official directory (the same lookup decisions
read), when their Keycloak id is looked up; every later action on that id goes to the same realm. A person the
directory does not know is looked up in the default realm, as before. The single-realm :class:`KeycloakLocks`
stays as it is; this wraps one of it per realm.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from bridge.services.locks.keycloak_actions import KeycloakLocks


@dataclass
class RealmLocks(KeycloakLocks):
    """:class:`KeycloakLocks` of the default realm (``admin``) that sends each person to their own realm's."""

    #: One single-realm actions object per realm other than the default.
    others: dict[str, KeycloakLocks] = field(default_factory=dict)
    #: The realm of a person by e-mail (their directory unit's; the default realm's name when unknown).
    realm_of: Callable[[str], str] = field(default=lambda email: "")
    _by_user: dict[str, KeycloakLocks] = field(default_factory=dict, repr=False)

    def _for_email(self, email: str) -> KeycloakLocks | None:
        return self.others.get(self.realm_of(email))

    def _for(self, user_id: str) -> KeycloakLocks | None:
        return self._by_user.get(user_id)

    async def known_user_id(self, email: str, user_id: str | None) -> str:
        """A recorded id is remembered in the person's realm (a job claimed again after a restart)."""
        own = self._for_email(email)
        if user_id is not None and own is not None:
            self._by_user[user_id] = own
        return user_id or await self.user_id(email)

    async def find_user_id(self, email: str) -> str | None:
        """The person's id in their realm (remembered, so their later actions go there)."""
        own = self._for_email(email)
        if own is None:
            return await super().find_user_id(email)
        found = await own.find_user_id(email)
        if found is not None:
            self._by_user[found] = own
        return found

    async def set_membership(self, user_id: str, path: str, *, member: bool) -> list[str]:
        own = self._for(user_id)
        if own is None:
            return await super().set_membership(user_id, path, member=member)
        return await own.set_membership(user_id, path, member=member)

    async def join_group(self, user_id: str, path: str) -> None:
        own = self._for(user_id)
        await (own.join_group(user_id, path) if own is not None else super().join_group(user_id, path))

    async def role_groups(self, user_id: str) -> list[str]:
        own = self._for(user_id)
        return await (own.role_groups(user_id) if own is not None else super().role_groups(user_id))

    async def observe(self, user_id: str) -> dict[str, Any]:
        own = self._for(user_id)
        return await (own.observe(user_id) if own is not None else super().observe(user_id))

    async def lock(self, user_id: str) -> dict[str, Any]:
        own = self._for(user_id)
        return await (own.lock(user_id) if own is not None else super().lock(user_id))

    async def end_role_groups(self, user_id: str, paths: Iterable[str]) -> dict[str, Any]:
        own = self._for(user_id)
        if own is None:
            return await super().end_role_groups(user_id, paths)
        return await own.end_role_groups(user_id, paths)

    async def reinstate(self, user_id: str, paths: Iterable[str]) -> dict[str, Any]:
        own = self._for(user_id)
        return await (own.reinstate(user_id, paths) if own is not None else super().reinstate(user_id, paths))


def realm_of_person(
    find_unit: Callable[[str], str | None], realm_of_unit: Callable[[str], str]
) -> Callable[[str], str]:
    """A person's realm from their directory unit (``find_unit``: e-mail → unit code, None when unknown)."""

    def realm(email: str) -> str:
        unit = find_unit(email)
        return realm_of_unit(unit) if unit else ""

    return realm


__all__ = ["RealmLocks", "realm_of_person"]
