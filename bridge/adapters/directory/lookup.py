"""What the governance core asks of the official mail directory, and an in-process implementation of it.

The API must not know which directory answers: in production the LDAP adapter
(``bridge.adapters.directory.ldap.LdapDirectory``, the directory itself behind a short cache) satisfies
:class:`DirectoryLookup`; tests, the benchmark and the demo use :class:`SnapshotDirectory`, a real read-only
index of directory entries loaded from a JSON export.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


def normalise_email(email: str) -> str:
    """E-mail addresses are compared NFC and lower-case."""
    return unicodedata.normalize("NFC", email.strip()).lower()


@dataclass(frozen=True)
class DirectoryPerson:
    """A person of the official directory (thư điện tử công vụ), as far as scope decisions need."""

    email: str
    full_name: str
    unit_code: str
    active: bool = True
    title: str = ""


class DirectoryLookup(Protocol):
    """Read access to the official directory."""

    def find(self, email: str) -> DirectoryPerson | None:
        """The person with this e-mail, or None."""
        ...

    def in_units(self, unit_codes: Iterable[str]) -> Sequence[DirectoryPerson]:
        """Everyone whose unit is one of ``unit_codes``, ordered by e-mail."""
        ...


class SnapshotDirectory:
    """A directory held in memory: indexed by e-mail and by unit."""

    def __init__(self, people: Iterable[DirectoryPerson]) -> None:
        self._by_email = {normalise_email(p.email): p for p in people}
        self._by_unit: dict[str, list[DirectoryPerson]] = {}
        for person in sorted(self._by_email.values(), key=lambda p: p.email):
            self._by_unit.setdefault(person.unit_code, []).append(person)

    def find(self, email: str) -> DirectoryPerson | None:
        """The person with this e-mail, or None."""
        return self._by_email.get(normalise_email(email))

    def in_units(self, unit_codes: Iterable[str]) -> Sequence[DirectoryPerson]:
        """Everyone whose unit is one of ``unit_codes``, ordered by e-mail."""
        found = [p for code in set(unit_codes) for p in self._by_unit.get(code, [])]
        return sorted(found, key=lambda p: p.email)

    def __len__(self) -> int:
        return len(self._by_email)

    @classmethod
    def load(cls, path: Path) -> SnapshotDirectory:
        """Load a JSON list of ``{email, full_name, unit_code, active, title}`` objects."""
        rows = json.loads(path.read_text(encoding="utf-8"))
        return cls(DirectoryPerson(**row) for row in rows)

    def dump(self, path: Path) -> None:
        """Write the snapshot as JSON (the format :meth:`load` reads)."""
        rows = [vars(p) for p in sorted(self._by_email.values(), key=lambda p: p.email)]
        path.write_text(json.dumps(rows, ensure_ascii=False, indent=0), encoding="utf-8")
