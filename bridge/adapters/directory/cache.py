"""The directory lookup's memory: a bounded, thread-safe cache of answers that a hard TTL makes worthless.

Every scope decision asks the official directory who a person is and where they work; reading slapd (or the
ministry's directory) for each would tie every API request to it, so answers are kept. But a decision must
never rest on an old answer: an answer older than the TTL is a miss, whatever comes next — the lookup reads
it again, or fails with ``DirectoryUnavailable`` when the directory is down. There is no "serve stale on
error". Ages count from the moment *before* the directory was asked (``read_at``), so a slow read never
makes its answer look younger than it is, and an older read never overwrites a younger answer.

Two kinds of answers are kept: one per e-mail address (the person, or ``None`` when the directory has no usable
entry for it) and one per unit code (the addresses of its members). A unit's answer is served only while every
member's own answer is fresh and still names that unit, so both stay consistent. ``max_entries`` bounds the
answers by address, and separately the addresses listed by unit answers (which share the address strings);
the least recently used go first. Pure logic: no I/O, the clock is injected.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bridge.adapters.directory.lookup import DirectoryPerson


@dataclass(frozen=True)
class Cached:
    """A fresh answer for one address: the person, or ``None`` when the directory has no usable entry."""

    person: DirectoryPerson | None


class LookupCache:
    """Answers by e-mail and by unit, each served only while younger than ``ttl_s``; at most ``max_entries``."""

    def __init__(self, *, max_entries: int, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        if max_entries < 1 or ttl_s <= 0:
            raise ValueError("the lookup cache needs max_entries >= 1 and ttl_s > 0")
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self.clock = clock
        self._people: OrderedDict[str, tuple[float, DirectoryPerson | None]] = OrderedDict()
        self._units: OrderedDict[str, tuple[float, tuple[str, ...]]] = OrderedDict()
        self._unit_load = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """Answers held for addresses (what ``max_entries`` bounds)."""
        with self._lock:
            return len(self._people)

    def _fresh(self, read_at: float, now: float) -> bool:
        return now - read_at < self.ttl_s

    def get(self, email: str) -> Cached | None:
        """The fresh answer for a normalised address, or ``None`` (never seen, or too old: ask the directory)."""
        now = self.clock()
        with self._lock:
            slot = self._people.get(email)
            if slot is None:
                return None
            if not self._fresh(slot[0], now):
                del self._people[email]
                return None
            self._people.move_to_end(email)
            return Cached(slot[1])

    def put(self, email: str, person: DirectoryPerson | None, *, read_at: float) -> None:
        """Keep the answer for a normalised address read at ``read_at``, unless a younger one is kept."""
        with self._lock:
            self._put(email, person, read_at)
            self._trim()

    def _put(self, email: str, person: DirectoryPerson | None, read_at: float) -> None:
        slot = self._people.get(email)
        if slot is not None and slot[0] > read_at:
            return
        self._people[email] = (read_at, person)
        self._people.move_to_end(email)

    def members(self, unit_codes: Iterable[str]) -> tuple[list[DirectoryPerson], set[str]]:
        """The fresh members of the units answered from memory, and the unit codes to ask the directory for."""
        now = self.clock()
        found: list[DirectoryPerson] = []
        missing: set[str] = set()
        with self._lock:
            for code in set(unit_codes):
                members = self._members(code, now)
                if members is None:
                    missing.add(code)
                else:
                    found.extend(members)
        return found, missing

    def _members(self, code: str, now: float) -> list[DirectoryPerson] | None:
        slot = self._units.get(code)
        if slot is None:
            return None
        if self._fresh(slot[0], now):
            members: list[DirectoryPerson] = []
            for email in slot[1]:
                person_slot = self._people.get(email)
                if person_slot is None or not self._fresh(person_slot[0], now):
                    break
                person = person_slot[1]
                if person is None or person.unit_code != code:
                    break
                members.append(person)
            else:
                self._units.move_to_end(code)
                return members
        self._drop_unit(code)
        return None

    def put_units(self, unit_codes: Iterable[str], people: Iterable[DirectoryPerson], *, read_at: float) -> None:
        """Keep the complete membership of each of ``unit_codes`` (a unit without people in ``people`` is empty)."""
        by_unit: dict[str, list[str]] = {code: [] for code in unit_codes}
        with self._lock:
            for person in people:
                self._put(person.email, person, read_at)
                if person.unit_code in by_unit:
                    by_unit[person.unit_code].append(person.email)
            for code, emails in by_unit.items():
                self._put_unit(code, tuple(emails), read_at)
            self._trim()

    def _put_unit(self, code: str, emails: tuple[str, ...], read_at: float) -> None:
        slot = self._units.get(code)
        if slot is not None and slot[0] > read_at:
            return
        self._drop_unit(code)
        self._units[code] = (read_at, emails)
        self._unit_load += len(emails)

    def _drop_unit(self, code: str) -> None:
        slot = self._units.pop(code, None)
        if slot is not None:
            self._unit_load -= len(slot[1])

    def prime(
        self,
        people: Iterable[DirectoryPerson],
        *,
        unusable: Iterable[str] = (),
        read_at: float,
        complete: bool = False,
    ) -> None:
        """Keep the answers of a directory read (the sync's): its people, and ``None`` for its ``unusable`` addresses.

        ``complete`` means the read was a full one that the server finished: then every unit's membership is
        known, and an address kept from before that the read did not find has left the directory.
        """
        people = list(people)
        with self._lock:
            for person in people:
                self._put(person.email, person, read_at)
            for email in unusable:
                self._put(email, None, read_at)
            if complete:
                seen = {p.email for p in people}
                for email in [e for e, slot in self._people.items() if e not in seen and slot[0] < read_at]:
                    self._people[email] = (read_at, None)
                by_unit: dict[str, list[str]] = {code: [] for code in self._units}
                for person in people:
                    by_unit.setdefault(person.unit_code, []).append(person.email)
                for code, emails in by_unit.items():
                    self._put_unit(code, tuple(emails), read_at)
            self._trim()

    def forget(self, email: str) -> None:
        """Drop the answer for one address (the next lookup asks the directory)."""
        with self._lock:
            self._people.pop(email, None)

    def clear(self) -> None:
        """Drop every answer."""
        with self._lock:
            self._people.clear()
            self._units.clear()
            self._unit_load = 0

    def _trim(self) -> None:
        while len(self._people) > self.max_entries:
            self._people.popitem(last=False)
        while self._unit_load > self.max_entries and self._units:
            self._drop_unit(next(iter(self._units)))
