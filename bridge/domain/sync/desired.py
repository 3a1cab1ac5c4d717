"""Desired state: who should be in Keycloak, enabled, in which unit group, on the effective date.

Computed from one directory read and the unit tree valid on the day (ngày hiệu lực). A person whose unit was
closed by a reorganisation follows the successor links to the unit in force, so the successor "takes its
people"; the managed attributes are carried for comparison and reporting only, because Keycloak reads them
from the directory itself (READ_ONLY LDAP mappers, docs/decisions/0201). Bad entries are rejected with their
DN and reason, never silently dropped, and never make the rest of the run fail. An entry whose mail is outside
the official domains (Công văn 907: every account is an official e-mail) is rejected too, but its state is known
— it may not have an account — so an existing account of that mail is a leaver, not left alone. Pure.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from bridge.adapters.directory.ldap import DirectoryEntry, DirectoryRead, RejectedEntry
from bridge.domain.units import UnitTree


@dataclass(frozen=True, slots=True)
class DesiredPerson:
    """One person as Keycloak should hold them on the day."""

    mail: str
    dn: str
    #: Unit code the directory names (may be a closed unit).
    source_unit: str
    #: Unit code in force on the day (the successor when the source unit was closed).
    unit_code: str
    group_path: str
    display_name: str
    title: str
    employee_number: str

    @property
    def reorganised(self) -> bool:
        """True when the directory still names a unit that a reorganisation closed."""
        return self.source_unit != self.unit_code


@dataclass
class DesiredState:
    """Everyone who should exist, keyed by lower-case mail, plus what could not be used."""

    day: dt.date
    people: dict[str, DesiredPerson] = field(default_factory=dict)
    rejected: list[RejectedEntry] = field(default_factory=list)
    #: False when the directory read was partial or failed: nobody may be disabled on its basis.
    complete: bool = True
    #: True when only entries modified since the last high-water mark were read.
    incremental: bool = False
    #: Group paths of every unit in force on the day (the managed unit groups).
    unit_groups: frozenset[str] = frozenset()
    #: Mails of entries rejected because their domain is not official: known not to be allowed an account.
    unofficial: set[str] = field(default_factory=set)
    #: For an incremental run: every mail the directory holds now (read apart, one attribute), so that leavers
    #: are found without a full read; None when unknown (then an incremental run plans no leaver).
    present: frozenset[str] | None = None

    @property
    def uncertain(self) -> frozenset[str]:
        """Mails of rejected entries whose state is unknown (so nothing is disabled); not the unofficial ones."""
        return frozenset(r.mail for r in self.rejected if r.mail and r.mail not in self.unofficial)


def official_mail(mail: str, domains: frozenset[str]) -> bool:
    """True when ``mail``'s domain is one of the official ``domains`` (exactly; lower-case). Pure."""
    return mail.rpartition("@")[2].strip().lower() in domains


def unofficial_reason(mail: str) -> str:
    """Why an entry with a non-official mail is rejected (Vietnamese / English)."""
    domain = mail.rpartition("@")[2]
    return (
        f"thư điện tử {mail} không thuộc tên miền công vụ / {domain!r} is not an official e-mail domain "
        "(Công văn 907/BHXH-CNTT)"
    )


def placement(units: UnitTree, code: str, day: dt.date) -> tuple[str, str] | None:
    """The unit in force on ``day`` for a directory's unit ``code`` (following successors of a closed unit) and
    its group path, or None when there is none. Pure."""
    unit_code = units.successor_on(code, day)
    return None if unit_code is None else (unit_code, units.group_path(unit_code, day))


def desired_person(
    entry: DirectoryEntry, units: UnitTree, day: dt.date, where: tuple[str, str] | None
) -> DesiredPerson | RejectedEntry:
    """A directory entry placed in the unit tree of ``day`` (``where``: its unit's :func:`placement`), or the
    reason it cannot be placed. Pure."""
    if where is None:
        known = "closed without a successor" if units.known(entry.unit_code) else "unknown"
        reason = f"unit code {entry.unit_code!r} is {known} on {day:%d/%m/%Y}"
        return RejectedEntry(dn=entry.dn, reason=reason, mail=entry.mail)
    unit_code, group_path = where
    return DesiredPerson(
        mail=entry.mail,
        dn=entry.dn,
        source_unit=entry.unit_code,
        unit_code=unit_code,
        group_path=group_path,
        display_name=entry.display_name,
        title=entry.title,
        employee_number=entry.employee_number,
    )


def desired_state(read: DirectoryRead, units: UnitTree, *, day: dt.date) -> DesiredState:
    """The desired state of ``day`` from one directory read. Duplicate mails reject every holder. Pure."""
    state = DesiredState(
        day=day,
        rejected=list(read.rejected),
        complete=read.complete,
        incremental=read.incremental,
        unit_groups=frozenset(units.group_path(code, day) for code in units.on(day)),
    )
    holders: dict[str, list[DirectoryEntry]] = {}
    # once per unit, not per person: a directory has a few hundred units and up to 100,000 people (decision 0912)
    placed = {code: placement(units, code, day) for code in {entry.unit_code for entry in read.entries}}
    official = units.official_domains()
    for entry in read.entries:
        if not official_mail(entry.mail, official):
            state.rejected.append(RejectedEntry(dn=entry.dn, reason=unofficial_reason(entry.mail), mail=entry.mail))
            state.unofficial.add(entry.mail)
            continue
        holders.setdefault(entry.mail, []).append(entry)
    for mail, entries in holders.items():
        if len(entries) > 1:
            # Two entries claim one login: neither can be trusted to own it.
            dns = ", ".join(e.dn for e in entries)
            state.rejected.extend(
                RejectedEntry(dn=e.dn, reason=f"duplicate mail {mail} ({dns})", mail=mail) for e in entries
            )
            continue
        person = desired_person(entries[0], units, day, placed[entries[0].unit_code])
        if isinstance(person, RejectedEntry):
            state.rejected.append(person)
        else:
            state.people[mail] = person
    return state
