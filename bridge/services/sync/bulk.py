"""Bulk import of joiners: Keycloak's own federation import, then the new users' ids in a few large reads.

Through the import lookup a joiner costs two admin calls and one LDAP round trip inside Keycloak; an initial
load of a province (thousands of people) or of the whole of BHXH spends most of its time there. Keycloak's LDAP
provider imports the directory in-process, a page of 1,000 entries per transaction, and the bridge's
least-privilege service account may start it (``manage-users``; measured, docs/decisions/0205). After it, the
new users' ids come from one ``q=unit_code:`` search per unit (``GET users`` pages were measured slower, decision
0902), so a joiner costs only its unit-group join. Small runs keep the per-person
lookup: a federation import reads the whole directory.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bridge.adapters.directory.lookup import normalise_email
from bridge.adapters.keycloak.admin import KeycloakAdmin, UnreadableAnswer
from bridge.errors import PermanentError, TransientError

#: The user attribute (LDAP mapper of keycloak-config/realm.yaml) holding the directory's unit code.
UNIT_ATTRIBUTE = "unit_code"
#: Longest a federation import may take (100,000 people on a small machine take minutes).
IMPORT_TIMEOUT_S = 3600.0
#: Longest one unit's search may take: Keycloak checks every person it returns against the directory, and a
#: provincial office has thousands of people (a 60 s limit failed at 100,000 people).
SEARCH_TIMEOUT_S = 900.0
SEARCH_ATTEMPTS = 3


@dataclass
class BulkImport:
    """What the federation import did, and the ids it made known (mail → Keycloak user id)."""

    added: int = 0
    updated: int = 0
    failed: int = 0
    ids: dict[str, str] = field(default_factory=dict)
    import_s: float = 0.0
    lookup_s: float = 0.0

    def summary(self) -> dict[str, Any]:
        """For the run report and the audit ledger."""
        return {
            "added": self.added,
            "updated": self.updated,
            "failed": self.failed,
            "ids_found": len(self.ids),
            "import_s": round(self.import_s, 2),
            "lookup_s": round(self.lookup_s, 2),
        }


def wants_bulk(joiners: int, *, directory_size: int, minimum: int, share: float) -> bool:
    """Whether a run with ``joiners`` import lookups should import in bulk instead. Pure.

    A federation import reads the whole directory, so it pays only when the joiners are both many
    (``minimum``) and a large part of the directory (``share``): an initial load, a newly federated province.
    """
    return minimum > 0 and joiners >= minimum and joiners >= share * directory_size


async def federation_component(admin: KeycloakAdmin) -> str:
    """Id of the realm's LDAP user-federation component (the official mail directory)."""
    components = await admin.aget("components", type="org.keycloak.storage.UserStorageProvider")
    ldap = [c for c in components or [] if c.get("providerId") == "ldap"]
    if len(ldap) != 1:
        raise PermanentError(f"expected one LDAP federation in realm {admin.realm}, found {len(ldap)}")
    return str(ldap[0]["id"])


#: Users per ``GET users`` page when the ids are read in pages (decision 0902).
ID_PAGE_SIZE = 5000


async def _search(admin: KeycloakAdmin, gate: asyncio.Semaphore, **params: Any) -> list[dict[str, Any]] | None:
    """One ``GET users`` search, retried on transient failures (``SEARCH_ATTEMPTS``); None when it never answered."""
    for attempt in range(1, SEARCH_ATTEMPTS + 1):
        try:
            async with gate:
                return list(await admin.aget_slow("users", timeout_s=SEARCH_TIMEOUT_S, **params) or [])
        except TransientError:
            if attempt < SEARCH_ATTEMPTS:
                await asyncio.sleep(2.0 * attempt)
        except UnreadableAnswer:
            # a hostile entry imported by the federation broke Keycloak's answer (issue 17): these people fall
            # back to the per-person lookup, whose exact search does not return that entry
            return None
    return None


def _collect(users: Iterable[dict[str, Any]], ids: dict[str, str]) -> None:
    """Mail → id of the users that have an e-mail."""
    for user in users:
        if user.get("email"):
            ids[normalise_email(str(user["email"]))] = str(user["id"])


async def ids_in_pages(admin: KeycloakAdmin, *, concurrency: int, page_size: int = ID_PAGE_SIZE) -> dict[str, str]:
    """Mail → id of every user of the realm, from ``GET users`` pages (brief representations), several pages in
    flight; pages are read until one comes back short."""
    ids: dict[str, str] = {}
    total = await admin.aget("users/count")
    pages = max(1, -(-int(total or 0) // page_size))
    gate = asyncio.Semaphore(max(1, concurrency))

    async def page(number: int) -> int:
        users = await _search(admin, gate, briefRepresentation="true", first=number * page_size, max=page_size)
        if users is None:
            return page_size  # these people fall back to the per-person import lookup
        _collect(users, ids)
        return len(users)

    sizes = await asyncio.gather(*(page(n) for n in range(pages)))
    number = pages
    while sizes[-1] == page_size:  # a full last page: users added since the count
        sizes.append(await page(number))
        number += 1
    return ids


async def import_in_bulk(
    admin: KeycloakAdmin, *, unit_codes: Iterable[str], concurrency: int, ids: str = "units"
) -> BulkImport:
    """Run Keycloak's federation import, then read the new users' ids: one search per unit of ``unit_codes``
    (directory codes; decision 0205) or ``pages`` of ``GET users`` (decision 0902)."""
    result = BulkImport()
    component = await federation_component(admin)
    started = time.monotonic()
    answer = await admin.apost_slow(
        f"user-storage/{component}/sync", {}, timeout_s=IMPORT_TIMEOUT_S, action="triggerFullSync"
    )
    result.import_s = time.monotonic() - started
    answer = answer or {}
    result.added, result.updated = int(answer.get("added", 0)), int(answer.get("updated", 0))
    result.failed = int(answer.get("failed", 0))
    started = time.monotonic()
    if ids == "pages":
        result.ids = await ids_in_pages(admin, concurrency=concurrency)
        result.lookup_s = time.monotonic() - started
        return result
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(code: str) -> None:
        users = await _search(admin, gate, q=f"{UNIT_ATTRIBUTE}:{code}", briefRepresentation="true", first=0,
                              max=1_000_000)  # fmt: skip
        _collect(users or [], result.ids)  # None: these people fall back to the per-person import lookup

    await asyncio.gather(*(one(code) for code in sorted(set(unit_codes))))
    result.lookup_s = time.monotonic() - started
    return result
