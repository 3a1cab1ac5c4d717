"""The only module that imports ldap3: a read-only, paged search of the official mail directory.

A directory read has three outcomes the engine must never confuse: a complete list of people (possibly
empty), a partial list (the server stopped paging, a size or time limit hit) and a failure. Only the first
may ever lead to disabling anyone, so a partial read is returned with ``complete=False`` and a failure raises
:class:`TransientError`. Values are decoded strictly as UTF-8 and normalised to NFC, e-mails are lower-cased;
an entry that cannot be used (no mail, undecodable value) is kept aside with its DN and the reason, so the
rest of the directory still syncs. The page size is the directory setting (1,000: the largest page Active
Directory serves; OpenLDAP here has no limit).
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass, field

import ldap3
from ldap3.core.exceptions import LDAPException

from bridge.errors import TransientError
from bridge.settings import DirectorySettings

#: Attributes of inetOrgPerson the bridge reads; nothing else (never userPassword).
ATTRIBUTES = (
    "mail",
    "uid",
    "displayName",
    "cn",
    "departmentNumber",
    "title",
    "employeeNumber",
    "modifyTimestamp",
)
#: LDAP result codes that mean "the server stopped before the end": the read is partial.
PARTIAL_RESULTS = frozenset({3, 4, 11})  # timeLimitExceeded, sizeLimitExceeded, adminLimitExceeded


@dataclass(frozen=True)
class DirectoryEntry:
    """One usable person of the directory, normalised (NFC strings, lower-case mail)."""

    dn: str
    mail: str
    uid: str
    display_name: str
    unit_code: str
    title: str
    employee_number: str
    #: modifyTimestamp as the directory wrote it (generalized time), the incremental high-water mark.
    modified: str = ""


@dataclass(frozen=True)
class RejectedEntry:
    """A directory entry the bridge cannot use, with the reason (shown in the run report)."""

    dn: str
    reason: str
    #: The entry's mail when it could be read: that person's account is left alone, never disabled.
    mail: str = ""


@dataclass
class DirectoryRead:
    """The result of one search: entries, rejected entries, and whether the server returned everything."""

    entries: list[DirectoryEntry] = field(default_factory=list)
    rejected: list[RejectedEntry] = field(default_factory=list)
    complete: bool = True
    #: Largest modifyTimestamp seen, for the next incremental run.
    high_water: str = ""
    #: True when the search was limited to entries modified since a high-water mark.
    incremental: bool = False


def _decode(raw: list[bytes], name: str) -> str:
    if not raw:
        return ""
    try:
        text = raw[0].decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        raise ValueError(f"undecodable value in {name} (not UTF-8)") from None
    return unicodedata.normalize("NFC", text.strip())


def parse_entry(dn: str, raw: dict[str, list[bytes]]) -> DirectoryEntry | RejectedEntry:
    """One search result as a usable entry, or the reason it is not usable. Pure."""
    lowered = {key.lower(): value for key, value in raw.items()}
    try:
        mail = _decode(lowered.get("mail", []), "mail").lower()
    except ValueError:
        mail = ""
    try:
        values = {name: _decode(lowered.get(name.lower(), []), name) for name in ATTRIBUTES}
    except ValueError as exc:
        return RejectedEntry(dn=dn, reason=str(exc), mail=mail)
    if not values["mail"]:
        return RejectedEntry(dn=dn, reason="no mail attribute (không có thư điện tử công vụ)")
    if not values["departmentNumber"]:
        return RejectedEntry(dn=dn, reason="no departmentNumber (unit code)", mail=mail)
    return DirectoryEntry(
        dn=dn,
        mail=values["mail"].lower(),
        uid=values["uid"],
        display_name=values["displayName"] or values["cn"],
        unit_code=values["departmentNumber"],
        title=values["title"],
        employee_number=values["employeeNumber"],
        modified=values["modifyTimestamp"],
    )


def _connect(settings: DirectorySettings) -> ldap3.Connection:
    server = ldap3.Server(settings.url, connect_timeout=10, get_info=ldap3.NONE)
    return ldap3.Connection(
        server,
        user=settings.bind_dn,
        password=settings.bind_password.get_secret_value(),
        auto_bind=ldap3.AUTO_BIND_NO_TLS,
        receive_timeout=120,
        read_only=True,
        raise_exceptions=False,
    )


def read_people(settings: DirectorySettings, *, since: str | None = None) -> DirectoryRead:
    """Every person under ``people_base`` (or only those modified at/after ``since``), paged.

    Raises :class:`TransientError` when the directory cannot be reached or refuses the search.
    """
    search_filter = "(objectClass=inetOrgPerson)"
    if since:
        search_filter = f"(&{search_filter}(modifyTimestamp>={since}))"
    result = DirectoryRead(incremental=bool(since))
    try:
        conn = _connect(settings)
    except LDAPException as exc:
        raise TransientError(f"directory {settings.url} unreachable: {type(exc).__name__}") from None
    try:
        cookie: bytes | str | None = None
        while True:
            ok = conn.search(
                settings.people_base,
                search_filter,
                search_scope=ldap3.LEVEL,
                attributes=list(ATTRIBUTES),
                paged_size=settings.page_size,
                paged_cookie=cookie,
            )
            code = conn.result.get("result", 0) if conn.result else 0
            if not ok and code in PARTIAL_RESULTS:
                result.complete = False
            elif not ok and code != 0:
                raise TransientError(f"directory search failed: {conn.result.get('description')} ({code})")
            for item in conn.response or []:
                if item.get("type") != "searchResEntry":
                    continue
                parsed = parse_entry(item["dn"], item.get("raw_attributes", {}))
                if isinstance(parsed, RejectedEntry):
                    result.rejected.append(parsed)
                    continue
                result.entries.append(parsed)
                result.high_water = max(result.high_water, parsed.modified)
            controls = (conn.result or {}).get("controls", {})
            cookie = controls.get("1.2.840.113556.1.4.319", {}).get("value", {}).get("cookie")
            if not cookie or not result.complete:
                break
    except LDAPException as exc:
        raise TransientError(f"directory read interrupted: {type(exc).__name__}") from None
    finally:
        conn.unbind()
    return result


def now_generalized(moment: dt.datetime | None = None) -> str:
    """A generalized-time string (``20261123140501Z``) for a moment, as modifyTimestamp is written."""
    return (moment or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).strftime("%Y%m%d%H%M%SZ")


def ping(settings: DirectorySettings) -> None:
    """Bind and read the people base entry; raise :class:`TransientError` when the directory does not answer."""
    try:
        conn = _connect(settings)
    except LDAPException as exc:
        raise TransientError(f"directory {settings.url} unreachable: {type(exc).__name__}") from None
    try:
        if not conn.bound or not conn.search(settings.people_base, "(objectClass=*)", search_scope=ldap3.BASE):
            raise TransientError(f"directory {settings.url} refused the read of {settings.people_base}")
    finally:
        conn.unbind()
