"""The only module that imports ldap3: the sync's paged read of the official mail directory, and the lookup
behind every decision.

A directory read has three outcomes the engine must never confuse: a complete list of people (possibly
empty), a partial list (the server stopped paging, a size or time limit hit) and a failure. Only the first
may ever lead to disabling anyone, so a partial read is returned with ``complete=False`` and a failure raises
:class:`TransientError`. Values are decoded strictly as UTF-8 and normalised to NFC, e-mails are lower-cased;
an entry that cannot be used (no mail, undecodable value) is kept aside with its DN and the reason, so the
rest of the directory still syncs. The page size is the directory setting (1,000: the largest page Active
Directory serves; OpenLDAP here has no limit).

Decisions (who a person is, which unit they work in) read the directory itself through :class:`LdapDirectory`
(the production :class:`~bridge.adapters.directory.lookup.DirectoryLookup`): a small search per e-mail or per
set of units, on a small pool of connections, behind a short cache whose answers are never used past their TTL
(``bridge.adapters.directory.cache``). When the directory cannot answer a lookup raises
:class:`DirectoryUnavailable` (503) rather than decide on an older answer. The sync's full read refreshes the
cache (:meth:`LdapDirectory.read_people`, :meth:`LdapDirectory.prime`). Entries become people by the sync's own
rules, so a decision and a sync run never disagree about who is in the directory.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import ssl
import threading
import unicodedata
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import lru_cache, wraps
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlsplit

import ldap3
from ldap3.core.exceptions import LDAPCertificateError, LDAPException, LDAPStartTLSError
from ldap3.utils.conv import escape_filter_chars, to_unicode

from bridge.adapters.directory.cache import LookupCache
from bridge.adapters.directory.lookup import DirectoryPerson, normalise_email
from bridge.errors import DirectoryUnavailable, TransientError
from bridge.metrics import DIRECTORY_ERRORS
from bridge.settings import DirectorySettings

P = ParamSpec("P")
R = TypeVar("R")


def _counted(read: Callable[P, R]) -> Callable[P, R]:
    """Count a failed read of the directory in ``bridge_directory_read_errors_total``."""

    @wraps(read)
    def counted(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return read(*args, **kwargs)
        except TransientError:
            DIRECTORY_ERRORS.inc()
            raise

    return counted


#: Attributes of inetOrgPerson the bridge reads; nothing else (never userPassword).
ATTRIBUTES = (
    "mail",
    "uid",
    "displayName",
    "cn",
    # not used by the bridge, but Keycloak's read-only mappers copy them into accounts and tokens (first and last
    # name): a hostile value there rejects the entry too (a 10 kB givenName broke Keycloak's user search, issue 17)
    "givenName",
    "sn",
    "departmentNumber",
    "title",
    "employeeNumber",
    "modifyTimestamp",
)
#: The entries that are people (the sync reads every one of them under ``people_base``).
PEOPLE_FILTER = "(objectClass=inetOrgPerson)"
#: Longest value accepted per attribute (characters); a longer one rejects the entry (a 10 kB name is not a name).
MAX_LENGTH = {"mail": 254, "uid": 128, "employeeNumber": 64, "departmentNumber": 32, "modifyTimestamp": 32}
MAX_NAME_LENGTH = 256
#: Characters that would change an LDAP filter were they not escaped: no official mail or uid contains them.
FILTER_CHARS = frozenset("*()\\\x00")
#: Bidirectional controls (RLM/LRM, embeddings, overrides, isolates, ALM): they make a name print as another.
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
MAIL_SHAPE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
#: Unicode's control characters (category Cc is exactly U+0000–U+001F and U+007F–U+009F), as one search: the
#: full read checks every value of every entry, and a per-character ``unicodedata.category`` loop was 12 % of a
#: full run's CPU in the bridge (profiled, decision 0911).
CONTROL_CHARS = re.compile("[\x00-\x1f\x7f-\x9f]")
BIDI_CHARS = re.compile("[" + "".join(sorted(BIDI_CONTROLS)) + "]")
#: LDAP result codes that mean "the server stopped before the end": the read is partial.
PARTIAL_RESULTS = frozenset({3, 4, 11})  # timeLimitExceeded, sizeLimitExceeded, adminLimitExceeded


@dataclass(frozen=True, slots=True)
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
    #: givenName and sn: Keycloak's read-only mappers copy them (first and last name); the seed writes them too
    #: (docs/decisions/0910). Not part of the entry hash: the bridge itself does not act on them.
    given_name: str = ""
    family_name: str = ""
    #: Attributes the directory holds in decomposed Unicode (NFD, a "tổ hợp" input method): the bridge uses
    #: their NFC form and reports the entry as a data-quality finding for the IT Center to fix at the source.
    decomposed: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
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
    #: Why the read is incomplete (a limit the server hit, the connection lost between pages), for the report.
    problem: str = ""


def _decode(raw: list[bytes], name: str) -> tuple[str, bool]:
    """The first value as NFC text, stripped, and whether the directory holds it decomposed (not NFC)."""
    if not raw:
        return "", False
    try:
        text = raw[0].decode("utf-8", errors="strict").strip()
    except UnicodeDecodeError:
        raise ValueError(f"undecodable value in {name} (not UTF-8)") from None
    if unicodedata.is_normalized("NFC", text):
        return text, False
    return unicodedata.normalize("NFC", text), True


def shown(text: str, *, limit: int = 300) -> str:
    """``text`` safe to print in a report: control and bidirectional characters as ``\\uXXXX``, cut at ``limit``."""
    safe = "".join(f"\\u{ord(c):04x}" if unicodedata.category(c) == "Cc" or c in BIDI_CONTROLS else c for c in text)
    return safe if len(safe) <= limit else f"{safe[:limit]}… ({len(text)} characters)"


def value_problem(name: str, text: str, *, plain: bool = False) -> str | None:
    """Why ``text`` cannot be the value of attribute ``name`` (hostile or absurd input), or None. Pure.

    ``plain``: the caller has already searched ``text`` for control and bidirectional characters, and found none.
    """
    limit = MAX_LENGTH.get(name, MAX_NAME_LENGTH)
    if len(text) > limit:
        return f"{name} longer than {limit} characters ({len(text)}) / quá dài"
    if not plain and CONTROL_CHARS.search(text):
        return f"{name} contains control characters / có ký tự điều khiển"
    if not plain and BIDI_CHARS.search(text):
        return f"{name} contains bidirectional (RTL) marks / có dấu đổi chiều viết"
    if name in ("mail", "uid") and not FILTER_CHARS.isdisjoint(text):
        return f"{name} contains LDAP filter characters * ( ) \\ / có ký tự của bộ lọc LDAP"
    if name == "mail" and text and not MAIL_SHAPE.fullmatch(text):
        return "mail is not an e-mail address / không phải địa chỉ thư"
    return None


def parse_entry(dn: str, raw: dict[str, list[bytes]]) -> DirectoryEntry | RejectedEntry:
    """One search result as a usable entry, or the reason it is not usable. Pure.

    Hostile values (filter characters in mail or uid, control characters, bidirectional marks, absurd lengths)
    reject the entry, named by its DN as printed safely (:func:`shown`); a mail that is itself hostile is not
    kept, since no account can carry it.
    """
    lowered = {key.lower(): value for key, value in raw.items()}
    dn_decomposed = ("dn",) if not unicodedata.is_normalized("NFC", dn) else ()
    dn = unicodedata.normalize("NFC", dn)  # printed and stored in NFC; the finding says the directory's is NFD
    try:
        mail = _decode(lowered.get("mail", []), "mail")[0].lower()
    except ValueError:
        mail = ""
    if value_problem("mail", mail):
        mail = ""
    try:
        decoded = {name: _decode(lowered.get(name.lower(), []), name) for name in ATTRIBUTES}
    except ValueError as exc:
        return RejectedEntry(dn=shown(dn), reason=str(exc), mail=mail)
    values = {name: text for name, (text, _) in decoded.items()}
    # One search of all the values at once: almost every entry has no control or bidirectional character
    # anywhere, and then no value needs its own two searches (decision 0912).
    every = "".join(values.values())
    plain = CONTROL_CHARS.search(every) is None and BIDI_CHARS.search(every) is None
    for name, text in values.items():
        problem = value_problem(name, text, plain=plain)
        if problem is not None:
            return RejectedEntry(dn=shown(dn), reason=problem, mail=mail)
    problem = value_problem("dn", dn)
    if problem is not None and "longer" not in problem:
        return RejectedEntry(dn=shown(dn), reason=problem, mail=mail)
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
        given_name=values["givenName"],
        family_name=values["sn"],
        decomposed=dn_decomposed + tuple(name for name, (_, nfd) in decoded.items() if nfd),
    )


def _tls(settings: DirectorySettings) -> ldap3.Tls | None:
    """The TLS of an ``ldaps://`` URL or of StartTLS: always verified, never ldap3's default (``CERT_NONE``).

    ldap3 turns the SSL context's own host name check off and checks the name itself once the handshake is
    done, before anything (the bind) is sent, when ``validate`` is ``CERT_REQUIRED`` (ldap3/core/tls.py,
    ``check_hostname``): a certificate for another host name fails the connection (decision 0840).
    """
    if not (settings.url.lower().startswith("ldaps://") or settings.start_tls):
        return None
    ca_file = settings.ca_file
    if ca_file is not None and not ca_file.is_file():
        raise DirectoryUnavailable(
            f"directory {settings.url}: CA file {ca_file} not found (không tìm thấy tệp CA của thư mục)"
        )
    return ldap3.Tls(
        validate=ssl.CERT_REQUIRED,
        ca_certs_file=str(ca_file) if ca_file is not None else None,
        version=ssl.PROTOCOL_TLS_CLIENT,
        sni=urlsplit(settings.url).hostname,
    )


_VERIFY_REASON = re.compile(r"certificate verify failed: (.+?)\s*(?:\(_ssl|$)")


def tls_problem(exc: BaseException, host: str) -> str | None:
    """Why the TLS of a connection to ``host`` failed, in words for the run report and ``/readyz``; None when
    ``exc`` is no TLS failure. Pure. Names no secret (the certificate's contents are not repeated either)."""
    causes: list[BaseException] = [exc]
    if len(exc.args) > 1 and isinstance(exc.args[1], list):  # ldap3 tried several addresses: one failure each
        causes += [item[0] for item in exc.args[1] if isinstance(item, tuple) and item]
    for cause in causes:
        if isinstance(cause, LDAPCertificateError):
            return (
                f"TLS certificate is for another host name (host name mismatch: it does not name {host}) "
                "/ chứng chỉ TLS cấp cho máy khác"
            )
        if isinstance(cause, ssl.SSLCertVerificationError):
            found = _VERIFY_REASON.search(str(cause))
            reason = found.group(1).strip() if found else "verification failed"
            return f"TLS certificate not trusted ({reason}) / chứng chỉ TLS không được tin cậy"
        if isinstance(cause, ssl.SSLError):
            return f"TLS handshake failed ({shown(str(cause), limit=120)}) / bắt tay TLS thất bại"
        if isinstance(cause, LDAPStartTLSError):
            return f"StartTLS failed ({shown(str(cause), limit=120)}) / StartTLS thất bại"
    return None


#: protocolOp of a SearchResultEntry in an LDAPMessage (RFC 4511, [APPLICATION 4]).
SEARCH_RESULT_ENTRY = 4


@lru_cache(maxsize=64)
def _attribute_name(raw: bytes) -> str:
    """An attribute's name as the server sent it, lower-cased (the same few names on every entry)."""
    return str(to_unicode(raw, from_server=True)).lower()


def _raw_entries_only(conn: ldap3.Connection) -> ldap3.Connection:
    """Make ``conn`` turn each search entry into its DN and raw values only: ``{"type", "dn", "raw_attributes"}``.

    ldap3 builds two dictionaries of every entry it receives: the raw values (bytes) and ``attributes``, every
    value decoded and formatted again, in case-insensitive dictionaries. The adapter uses only the raw values
    (:func:`parse_entry` decodes them itself, strictly, with its own checks), and at 100,000 people the
    second dictionary and its bookkeeping were half of the directory read's CPU: 12.0 s → 6.0 s per read
    (docs/decisions/0912). Attribute names come lower-cased. Every other message (bind, the search's end with
    its paging cookie, referrals) is decoded by ldap3 as before. This relies on the payload shape of ldap3's fast
    decoder, pinned with ldap3 itself (2.9.1); the integration test compares the two decodings on the live
    directory, hostile entries included.
    """
    decode_other = conn.strategy.decode_response_fast

    def decode(message: dict[str, Any]) -> dict[str, Any]:
        if message["protocolOp"] != SEARCH_RESULT_ENTRY:
            return decode_other(message)  # type: ignore[no-any-return]
        (_, _, _, dn), (_, _, _, attributes) = message["payload"][:2]
        raw: dict[str, list[bytes]] = {}
        for attribute in attributes:  # PartialAttribute: SEQUENCE { type, SET OF value }
            (_, _, _, name), (_, _, _, values) = attribute[3][:2]
            raw[_attribute_name(bytes(name))] = [bytes(value[3]) for value in values]
        return {"type": "searchResEntry", "dn": to_unicode(dn, from_server=True), "raw_attributes": raw}

    conn.strategy.decode_response_fast = decode
    return conn


def _connect(settings: DirectorySettings, *, timeout: float = 10, receive_timeout: int = 120) -> ldap3.Connection:
    """A bound connection: the one place the adapter opens one (the sync's reads, the lookup pool, ``ping``).

    A failed certificate check raises :class:`DirectoryUnavailable` naming the URL and the reason; any other
    failure propagates as ldap3's exception, for the caller to word.
    """
    tls = _tls(settings)
    server = ldap3.Server(settings.url, connect_timeout=timeout, get_info=ldap3.NONE, tls=tls)
    try:
        conn = ldap3.Connection(
            server,
            user=settings.bind_dn,
            password=settings.bind_password.get_secret_value(),
            # StartTLS before the bind: the password never crosses the wire in clear
            auto_bind=ldap3.AUTO_BIND_TLS_BEFORE_BIND if settings.start_tls else ldap3.AUTO_BIND_NO_TLS,
            receive_timeout=receive_timeout,
            read_only=True,
            raise_exceptions=False,
            # both fill ``attributes``, which the entries read here no longer have (_raw_entries_only)
            return_empty_attributes=False,
            auto_range=False,
        )
    except LDAPException as exc:
        problem = tls_problem(exc, urlsplit(settings.url).hostname or settings.url) if tls is not None else None
        if problem is None:
            raise
        raise DirectoryUnavailable(f"directory {settings.url}: {problem}") from None
    return _raw_entries_only(conn)


def _search(conn: ldap3.Connection, settings: DirectorySettings, search_filter: str, result: DirectoryRead) -> None:
    """One paged search of ``people_base`` into ``result``; a refusal raises, library errors propagate."""
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
            result.problem = f"{conn.result.get('description')} ({code})"
        elif not ok and code != 0:
            raise DirectoryUnavailable(
                f"directory search of {settings.people_base} failed: {conn.result.get('description')} ({code})"
            )
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


@_counted
def read_people(settings: DirectorySettings, *, since: str | None = None) -> DirectoryRead:
    """Every person under ``people_base`` (or only those modified at/after ``since``), paged.

    Raises :class:`DirectoryUnavailable` (a :class:`TransientError`) when the directory cannot be reached or
    refuses the search.
    """
    search_filter = PEOPLE_FILTER
    if since:
        search_filter = f"(&{search_filter}(modifyTimestamp>={escape_filter_chars(since)}))"
    result = DirectoryRead(incremental=bool(since))
    try:
        conn = _connect(settings)
    except LDAPException as exc:
        raise DirectoryUnavailable(f"directory {settings.url} unreachable: {type(exc).__name__}") from None
    try:
        _search(conn, settings, search_filter, result)
    except LDAPException as exc:
        if not (result.entries or result.rejected):
            raise DirectoryUnavailable(f"directory read interrupted: {type(exc).__name__}") from None
        # Lost between pages (the directory stopped mid-read): what was read is kept, marked partial, so the
        # run may still apply joiners and movers but never plans a leaver from it.
        result.complete = False
        seen = len(result.entries) + len(result.rejected)
        result.problem = f"connection lost after {seen} entries ({type(exc).__name__})"
    finally:
        with suppress(LDAPException, OSError):
            conn.unbind()
    return result


@dataclass(frozen=True)
class PresentMails:
    """Every mail the directory holds now (lower-case NFC), read apart from the entries: how an incremental run
    sees leavers, whose entries are gone and so have no modifyTimestamp to find (docs/decisions/0900)."""

    mails: frozenset[str]
    complete: bool


@_counted
def read_mails(settings: DirectorySettings) -> PresentMails:
    """The ``mail`` of every person under ``people_base``: one paged search of one attribute.

    A value that is not a usable mail is left out: its entry is rejected by a full read too, and an account
    whose mail the directory no longer holds is a leaver for both.
    """
    found: set[str] = set()
    complete = True
    try:
        conn = _connect(settings)
    except LDAPException as exc:
        raise DirectoryUnavailable(f"directory {settings.url} unreachable: {type(exc).__name__}") from None
    try:
        cookie: bytes | str | None = None
        while True:
            ok = conn.search(
                settings.people_base,
                PEOPLE_FILTER,
                search_scope=ldap3.LEVEL,
                attributes=["mail"],
                paged_size=settings.page_size,
                paged_cookie=cookie,
            )
            code = conn.result.get("result", 0) if conn.result else 0
            if not ok and code in PARTIAL_RESULTS:
                complete = False
            elif not ok and code != 0:
                raise DirectoryUnavailable(f"directory search failed: {conn.result.get('description')} ({code})")
            for item in conn.response or []:
                if item.get("type") != "searchResEntry":
                    continue
                raw_values = {k.lower(): v for k, v in item.get("raw_attributes", {}).items()}
                for raw in raw_values.get("mail", [])[:1]:
                    with suppress(UnicodeDecodeError):
                        mail = unicodedata.normalize("NFC", raw.decode("utf-8", errors="strict").strip()).lower()
                        if mail and value_problem("mail", mail) is None:
                            found.add(mail)
            controls = (conn.result or {}).get("controls", {})
            cookie = controls.get("1.2.840.113556.1.4.319", {}).get("value", {}).get("cookie")
            if not cookie or not complete:
                break
    except LDAPException as exc:
        raise DirectoryUnavailable(f"directory read interrupted: {type(exc).__name__}") from None
    finally:
        conn.unbind()
    return PresentMails(frozenset(found), complete)


def person_of(entry: DirectoryEntry) -> DirectoryPerson:
    """The person a usable entry describes, as decisions see them. Pure.

    The directory has no "disabled" flag: a leaver's entry is removed (the sync disables whoever is missing), so
    every usable entry is an active person.
    """
    return DirectoryPerson(
        email=entry.mail, full_name=entry.display_name, unit_code=entry.unit_code, active=True, title=entry.title
    )


def answers_of(read: DirectoryRead) -> tuple[list[DirectoryPerson], set[str]]:
    """The people of a read, and the addresses it holds no usable person for. Pure.

    The same rules as the sync's desired state: a rejected entry's address, and an address two entries claim,
    name nobody a decision may rely on.
    """
    holders: dict[str, list[DirectoryEntry]] = {}
    for entry in read.entries:
        holders.setdefault(entry.mail, []).append(entry)
    people = [person_of(entries[0]) for entries in holders.values() if len(entries) == 1]
    unusable = {mail for mail, entries in holders.items() if len(entries) > 1}
    unusable |= {r.mail for r in read.rejected if r.mail}
    return people, unusable - {p.email for p in people}


class _FairSlots:
    """A counting semaphore that serves waiters in arrival order. ``threading.Semaphore`` lets a releasing thread
    take its slot straight back, which starved waiting threads for 250-400 ms with 8-16 threads on 4-8
    connections (bench/directory_lookup.py); here a released slot goes to the longest waiter."""

    def __init__(self, size: int) -> None:
        self._free = size
        self._lock = threading.Lock()
        self._waiters: deque[threading.Lock] = deque()

    def acquire(self, timeout: float) -> bool:
        """Take a slot within ``timeout`` seconds; False when none came."""
        with self._lock:
            if self._free > 0 and not self._waiters:
                self._free -= 1
                return True
            waiter = threading.Lock()
            waiter.acquire()
            self._waiters.append(waiter)
        if waiter.acquire(timeout=timeout):
            return True
        with self._lock:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
                return False
        return True  # a slot was handed over just as the wait ended

    def release(self) -> None:
        """Give the slot to the longest waiter, or back to the free ones."""
        with self._lock:
            if self._waiters:
                self._waiters.popleft().release()
            else:
                self._free += 1


class _Pool:
    """At most ``lookup_connections`` bound connections, shared by the threads that need one (an ldap3 SYNC
    connection serves one request at a time). A failed connection is dropped, so a restarted server gets new ones."""

    def __init__(self, settings: DirectorySettings) -> None:
        self.settings = settings
        self._idle: list[ldap3.Connection] = []
        self._slots = _FairSlots(settings.lookup_connections)
        self._lock = threading.Lock()
        self._closed = False

    @contextmanager
    def connection(self, *, fresh: bool = False) -> Iterator[tuple[ldap3.Connection, bool]]:
        """A connection, and whether it was reused (a server restart may have closed a reused one)."""
        timeout = self.settings.lookup_timeout_s
        if not self._slots.acquire(timeout=timeout):
            raise DirectoryUnavailable(f"no free directory connection within {timeout:g} s")
        try:
            with self._lock:
                conn = self._idle.pop() if self._idle and not fresh else None
            reused = conn is not None
            if conn is None:
                # ldap3 sets the receive timeout as a whole number of seconds (SO_RCVTIMEO).
                conn = _connect(self.settings, timeout=timeout, receive_timeout=max(1, math.ceil(timeout)))
            try:
                yield conn, reused
            except BaseException:
                _close_quietly(conn)
                raise
            with self._lock:
                if not self._closed:
                    self._idle.append(conn)
                    conn = None
            if conn is not None:
                _close_quietly(conn)
        finally:
            self._slots.release()

    def drop_idle(self) -> None:
        """Unbind the idle connections (after one failed: the others most likely share its fate)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            _close_quietly(conn)

    def close(self) -> None:
        """Unbind the idle connections, and each connection in use when it is given back."""
        with self._lock:
            self._closed = True
        self.drop_idle()


def _close_quietly(conn: ldap3.Connection) -> None:
    with suppress(LDAPException, OSError):
        conn.unbind()


class LdapDirectory:
    """The production :class:`~bridge.adapters.directory.lookup.DirectoryLookup`: the official directory
    itself, behind a short cache (:class:`~bridge.adapters.directory.cache.LookupCache`).

    ``find`` and ``in_units`` answer from the cache while its answer is younger than
    ``lookup_cache_ttl_s``, and otherwise search the directory (one small search by ``mail``, or one paged
    search by ``departmentNumber``); when the directory cannot answer they raise
    :class:`~bridge.errors.DirectoryUnavailable` (503), never an older answer. Entries become people by the
    sync's own rules (:func:`parse_entry`, :func:`answers_of`): NFC strings, lower-case mail, rejected and
    duplicate addresses name nobody. A unit is the code the directory names (the sync maps closed units to
    their successors with the unit tree; so does a caller that needs the unit in force).

    Thread-safe; one instance per process. Wiring: build it with ``LdapDirectory(settings.directory)`` where a
    :class:`SnapshotDirectory` is built today (API app, CLI context, lock scheduler), and let the sync read
    through :meth:`read_people` (or hand its read to :meth:`prime`) so that each run warms the cache; call
    :meth:`close` on shutdown.
    """

    def __init__(self, settings: DirectorySettings, *, cache: LookupCache | None = None) -> None:
        self.settings = settings
        self.cache = cache or LookupCache(max_entries=settings.lookup_cache_size, ttl_s=settings.lookup_cache_ttl_s)
        self._pool = _Pool(settings)

    @_counted
    def find(self, email: str) -> DirectoryPerson | None:
        """The person with this e-mail (any case, NFC or NFD), or None."""
        email = normalise_email(email)
        if "@" not in email:
            return None
        cached = self.cache.get(email)
        if cached is not None:
            return cached.person
        read_at = self.cache.clock()
        read = self._read(f"(&{PEOPLE_FILTER}(mail={escape_filter_chars(email)}))")
        people, _ = answers_of(read)
        # An entry found through a second mail value is known to the sync by its first one: not this address.
        person = next((p for p in people if p.email == email), None)
        self.cache.put(email, person, read_at=read_at)
        return person

    @_counted
    def in_units(self, unit_codes: Iterable[str]) -> Sequence[DirectoryPerson]:
        """Everyone whose unit is one of ``unit_codes``, ordered by e-mail."""
        found, missing = self.cache.members(unit_codes)
        if missing:
            read_at = self.cache.clock()
            terms = "".join(f"(departmentNumber={escape_filter_chars(code)})" for code in sorted(missing))
            read = self._read(f"(&{PEOPLE_FILTER}(|{terms}))")
            if not read.complete:
                raise DirectoryUnavailable("the directory returned a partial list of the units' people")
            people, unusable = answers_of(read)
            people = [p for p in people if p.unit_code in missing]
            self.cache.prime((), unusable=unusable, read_at=read_at)
            self.cache.put_units(missing, people, read_at=read_at)
            found.extend(people)
        return sorted({p.email: p for p in found}.values(), key=lambda p: p.email)

    def read_people(self, *, since: str | None = None) -> DirectoryRead:
        """The sync's read (:func:`read_people`), whose answers also refresh the cache."""
        read_at = self.cache.clock()
        read = read_people(self.settings, since=since)
        self.prime(read, read_at=read_at)
        return read

    def prime(self, read: DirectoryRead, *, read_at: float | None = None) -> None:
        """Refresh the cache from a directory read made elsewhere, as of ``read_at`` (``cache.clock()`` taken
        before the read started; default: now). A complete full read also tells who left."""
        people, unusable = answers_of(read)
        complete = read.complete and not read.incremental
        stamp = self.cache.clock() if read_at is None else read_at
        self.cache.prime(people, unusable=unusable, read_at=stamp, complete=complete)

    def close(self) -> None:
        """Unbind the idle directory connections."""
        self._pool.close()

    def _read(self, search_filter: str) -> DirectoryRead:
        """One search on a pooled connection; a reused connection that fails (not by a timeout) is replaced once."""
        for attempt in (1, 2):
            result, reused = DirectoryRead(), False
            try:
                with self._pool.connection(fresh=attempt == 2) as (conn, reused):
                    _search(conn, self.settings, search_filter, result)
                return result
            except (LDAPException, OSError) as exc:
                # A reused connection may have been closed by a restart: try once on a new one. A timeout is no
                # such sign, and a second wait would double the time a request waits for its 503.
                timed_out = isinstance(exc.__context__, TimeoutError)
                if reused and attempt == 1 and not timed_out:
                    self._pool.drop_idle()
                    continue
                why = f"no answer within {self.settings.lookup_timeout_s:g} s" if timed_out else type(exc).__name__
                raise DirectoryUnavailable(f"directory {self.settings.url} unavailable: {why}") from None
        raise AssertionError("unreachable")


def now_generalized(moment: dt.datetime | None = None) -> str:
    """A generalized-time string (``20261123140501Z``) for a moment, as modifyTimestamp is written."""
    return (moment or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).strftime("%Y%m%d%H%M%SZ")


@_counted
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
