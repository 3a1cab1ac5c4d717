"""Actual state: the managed part of Keycloak, read in bulk and counted.

Keycloak is read by group, never by user: the group tree once, and the members of every unit group as the walk
finds it, paged at the largest page size. Users who are in no unit group are invisible here on purpose; for the
planner they are joiners, and the joiner's import lookup finds them. Each member listing makes Keycloak validate
every member against the directory (docs/decisions/0201), so listings run a few at a time, in parallel.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from bridge.adapters.directory.lookup import normalise_email
from bridge.adapters.keycloak.admin import KeycloakAdmin

#: Largest page Keycloak serves in one admin call without trouble (users of one group).
PAGE_SIZE = 5000
#: Member listings in flight at once unless the caller says otherwise (settings.sync.member_listing_concurrency).
LISTING_CONCURRENCY = 12


@dataclass(frozen=True, slots=True)
class ActualUser:
    """A Keycloak user the bridge manages: in at least one unit group."""

    id: str
    mail: str
    enabled: bool
    unit_groups: frozenset[str]


@dataclass
class ActualState:
    """Managed users by mail, the managed groups by path, and the bridge's own record of its leavers."""

    users: dict[str, ActualUser] = field(default_factory=dict)
    group_ids: dict[str, str] = field(default_factory=dict)
    #: Mails the bridge disabled as leavers (its last-applied state, from the store).
    leavers: frozenset[str] = frozenset()
    reads: int = 0

    def unit_sizes(self) -> dict[str, int]:
        """Members per unit group path."""
        sizes: dict[str, int] = {}
        for user in self.users.values():
            for path in user.unit_groups:
                sizes[path] = sizes.get(path, 0) + 1
        return sizes


async def read_group_tree(
    admin: KeycloakAdmin,
    *,
    roots: Iterable[str],
    found_one: Callable[[str, str], None] | None = None,
    concurrency: int = LISTING_CONCURRENCY,
) -> dict[str, str]:
    """Path → id of every group under the managed ``roots``: one call per group that has children, the children
    of different parents read side by side (``concurrency`` at once). ``found_one(path, id)`` is called as each
    group is found, so a caller can start on it before the whole tree is known (decision 0905)."""
    found: dict[str, str] = {}
    wanted = tuple(r.rstrip("/") for r in roots)
    gate = asyncio.Semaphore(max(1, concurrency))

    async def walk(groups: list[dict[str, Any]]) -> None:
        below: list[Awaitable[None]] = []
        for group in groups:
            path = str(group["path"])
            if not any(path == r or path.startswith(r + "/") for r in wanted):
                continue
            found[path] = str(group["id"])
            if found_one is not None:
                found_one(path, str(group["id"]))
            if group.get("subGroupCount"):
                below.append(children(str(group["id"])))
        await asyncio.gather(*below)

    async def children(group_id: str) -> None:
        async with gate:
            page = await admin.aget(f"groups/{group_id}/children", first=0, max=PAGE_SIZE, briefRepresentation="true")
        await walk(page)

    await walk(await admin.aget("groups", first=0, max=PAGE_SIZE, briefRepresentation="true"))
    return found


async def read_members(admin: KeycloakAdmin, group_id: str) -> list[dict[str, Any]]:
    """Every member of one group, page by page."""
    members: list[dict[str, Any]] = []
    first = 0
    while True:
        page = await admin.aget(f"groups/{group_id}/members", first=first, max=PAGE_SIZE, briefRepresentation="true")
        members.extend(page)
        if len(page) < PAGE_SIZE:
            return members
        first += PAGE_SIZE


async def read_actual(
    admin: KeycloakAdmin,
    *,
    unit_root: str,
    leavers: frozenset[str] = frozenset(),
    concurrency: int = LISTING_CONCURRENCY,
) -> ActualState:
    """The managed users of the realm: members of every group under ``unit_root``.

    A group's member listing starts as soon as the tree walk finds the group, so Keycloak is kept busy by the
    listings while the rest of the tree is still being read (they share the ``concurrency`` limit).
    """
    before = admin.calls.reads
    gate = asyncio.Semaphore(max(1, concurrency))
    # Only what the planner needs is kept of each member (id, enabled), not Keycloak's whole representation:
    # at 100,000 people the representations alone were about 100 MB (issue 16).
    seen: dict[str, tuple[str, bool]] = {}
    paths: dict[str, set[str]] = {}
    listings: list[asyncio.Task[None]] = []

    async def one(path: str, group_id: str) -> None:
        async with gate:
            members = await read_members(admin, group_id)
        for member in members:
            if not member.get("email"):
                continue
            mail = normalise_email(str(member["email"]))
            seen[mail] = (str(member["id"]), bool(member.get("enabled", True)))
            paths.setdefault(mail, set()).add(path)

    def found_one(path: str, group_id: str) -> None:
        # The root group too: the root unit's people (the leadership of BHXH Việt Nam) belong in it. Unlisted,
        # they were planned as joiners by every full run (found by the seed's test, decision 0910).
        listings.append(asyncio.ensure_future(one(path, group_id)))

    try:
        group_ids = await read_group_tree(admin, roots=(unit_root,), found_one=found_one, concurrency=concurrency)
        await asyncio.gather(*listings)
    finally:
        for task in listings:  # a failed walk or listing: the others are not left running
            task.cancel()
    users = {
        mail: ActualUser(id=user_id, mail=mail, enabled=enabled, unit_groups=frozenset(paths.pop(mail)))
        for mail, (user_id, enabled) in seen.items()
    }
    seen.clear()
    return ActualState(users=users, group_ids=group_ids, leavers=leavers, reads=admin.calls.reads - before)
