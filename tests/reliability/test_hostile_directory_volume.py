"""Hostile directory entries in volume, mixed with valid ones, through a real sync (issue 17, item 3).

tests/reliability/test_hostile_directory.py tries nine crafted entries; here a seeded generator adds several
hundred to a private slapd (its own realm on the session's Keycloak, :func:`sync_world`): LDAP filter
characters ``* ( ) \\`` and escape sequences (``\\2a``, ``\\00``) in uid and mail, mails such as ``*)(uid=*``,
10 kB names, control characters (C0, DEL, C1), right-to-left and other bidirectional marks, names in NFD,
mixed-case mails, and mails held by two entries (two new ones, or a new one and a person already synced). Whatever
slapd itself refuses is counted apart. Then one real full sync runs (not a dry run):
- every hostile entry is rejected, named by its DN in the run report;
- valid NFD entries are accepted in NFC and reported as data-quality findings with their DN;
- mixed-case mails are accepted lower-cased; both holders of a duplicated mail are rejected, and the person
  already synced who shares a mail with a new entry is left alone, not disabled;
- the bridge's lookups by every hostile value match nobody (no LDAP filter injection);
- 0 disables (nobody left the directory), 0 failed operations.
The bounded variant (``make test``) adds about 400 entries; the long one (``reliability_long``) about 3,000.
The entries go with the private slapd when the module ends.
"""

from __future__ import annotations

import base64
import random
import time
import unicodedata
from contextlib import suppress
from dataclasses import dataclass, field

import pytest

from bridge.adapters.directory.ldap import LdapDirectory, read_people
from bridge.domain.sync.planner import OpKind
from bridge.domain.units import UnitTree
from bridge.errors import SetupError
from bridge.testbed.slapd_server import PEOPLE_BASE
from bridge.testbed.stack import Stack
from tests.integration.sync_world import World, sync_world
from tests.reliability.api_bed import record_result

pytestmark = pytest.mark.integration
SIZE = 120
#: Entries generated per kind (bounded); the long variant multiplies them.
PER_KIND = 36
LONG_FACTOR = 8
FILTER_BITS = ("*", "(", ")", "\\", "\\2a", "\\00", "*)(uid=*", ")(|(uid=*", "\\28", "*)(objectClass=*")
C0_C1 = [chr(c) for c in (*range(1, 9), 11, 12, *range(14, 32), 127, *range(0x80, 0xA0))]
BIDI = ("\u061c", "\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067",
        "\u2068", "\u2069")  # fmt: skip
NAMES = ("Nguyễn Thị Hồng Nhung", "Trần Văn Đức", "Lê Thị Thuỳ Dương", "Phạm Quốc Việt", "Hoàng Thị Ánh Tuyết")


def b64(value: str) -> str:
    return base64.b64encode(value.encode("utf-8", errors="surrogatepass")).decode()


@dataclass
class Generated:
    """One generated entry: its attributes, and what the sync must do with it."""

    number: str
    attrs: dict[str, str]
    kind: str
    #: Words the rejection must hold; None for a valid entry.
    words: str | None
    #: Hostile values the bridge's lookups are tried with.
    probes: list[str] = field(default_factory=list)

    @property
    def dn(self) -> str:
        return f"employeeNumber={self.number},{PEOPLE_BASE}"

    def ldif(self) -> str:
        values = {"cn": "Hostile Entry", "sn": "Entry", "title": "Chuyên viên", "employeeNumber": self.number}
        body = "\n".join(f"{k}:: {b64(v)}" for k, v in (values | self.attrs).items())
        return f"dn:: {b64(self.dn)}\nchangetype: add\nobjectClass: inetOrgPerson\n{body}\n"


def generate(world: World, per_kind: int, rng: random.Random) -> list[Generated]:
    """Hostile and valid entries, shuffled; the mails of valid ones are new to the directory."""
    domain = world.people[0].mail.split("@")[1]
    units = sorted({p.unit_code for p in world.people})
    made: list[Generated] = []

    def add(kind: str, words: str | None, probes: list[str] | None = None, **attrs: str) -> Generated:
        number = f"h17v-{len(made):05d}"
        attrs = {"uid": number, "mail": f"{number}@{domain}", "departmentNumber": rng.choice(units)} | attrs
        made.append(Generated(number, attrs, kind, words, probes or []))
        return made[-1]

    for i in range(per_kind):
        bit = FILTER_BITS[i % len(FILTER_BITS)]
        uid = f"u{i}{bit}x"
        add("filter characters in uid", "uid contains LDAP filter", [uid], uid=uid)
        mail = f"m{i}{bit}x@{domain}" if i % 3 else ("*)(uid=*" if i % 2 else f"*)(mail=*{i}")
        add("filter characters in mail", "mail contains LDAP filter", [mail], mail=mail)
        name = rng.choice(("displayName", "cn", "sn", "givenName"))
        add("10 kB name", "longer than 256", **{name: ("Nguyễn Văn " * 1000)[: 10_000 + i]})
        char = C0_C1[i % len(C0_C1)]
        where = rng.choice(("displayName", "cn", "uid", "title"))
        add("control character", "control characters", **{where: f"Trần{char}Văn {i}"})
        mark = BIDI[i % len(BIDI)]
        where = rng.choice(("displayName", "cn", "uid"))
        add("bidirectional mark", "bidirectional (RTL) marks", **{where: f"Lê Văn {mark}B{i}"})
        nfd = unicodedata.normalize("NFD", f"{NAMES[i % len(NAMES)]} {i}")
        add("NFD name (valid)", None, cn=nfd, displayName=nfd, sn=nfd.split()[0])
        add("mixed-case mail (valid)", None, mail=f"Mixed.Case{i}@{domain.upper()}")
        add("plain (valid)", None, cn=f"Nguyễn Văn Hợp Lệ {i}", displayName=f"Nguyễn Văn Hợp Lệ {i}")
        if i % 3 == 0:  # two new entries holding one mail (differing in case)
            shared = f"trung.lap{i}@{domain}"
            add("duplicate mail (two new entries)", "duplicate mail", mail=shared)
            add("duplicate mail (two new entries)", "duplicate mail", mail=shared.upper())
        if i % 10 == 0:  # NUL written as an escape in uid and mail (the four characters \00), and a NUL byte
            add("NUL escape in uid", "uid contains LDAP filter", [f"n{i}\\00"], uid=f"n{i}\\00")
            add("NUL escape in mail", "mail contains LDAP filter", [f"n{i}\\00@{domain}"], mail=f"n{i}\\00@{domain}")
            add("NUL byte in a name", "control characters", displayName=f"Trần\x00Văn {i}")
    rng.shuffle(made)
    return made


def add_entries(world: World, entries: list[Generated]) -> set[str]:
    """Add the entries with ``ldapmodify -c`` (go on past what slapd refuses); the DNs slapd holds afterwards."""
    with suppress(SetupError):  # some records refused by slapd itself: which ones is read back below
        world.slapd.ldap_cli("ldapmodify", "\n".join(e.ldif() for e in entries), "-c")
    read = read_people(world.settings.directory)
    return {e.dn for e in read.entries} | {r.dn for r in read.rejected}


def run_volume(stack: Stack, units: UnitTree, *, per_kind: int, name: str, seed: int) -> dict[str, object]:
    rng = random.Random(seed)
    with sync_world(stack, units, name=name, size=SIZE, seed=seed) as world:
        first = world.sync(full=True)
        assert first.status == "applied" and not first.failed, (first.status, first.error)
        entries = generate(world, per_kind, rng)
        # a new entry holding the mail of a person already synced: both are rejected, the account left alone
        existing = world.people[:3]
        for k, person in enumerate(existing):
            entries.append(Generated(f"h17v-dup-{k}", {"uid": f"h17v-dup-{k}", "mail": person.mail.upper(),
                                                       "departmentNumber": person.unit_code},
                                     "duplicate mail (a synced person's)", "duplicate mail"))  # fmt: skip
        held = add_entries(world, entries)
        in_slapd = [e for e in entries if e.dn in held]
        refused_by_slapd = [e for e in entries if e.dn not in held]
        started = time.monotonic()
        report = world.sync(full=True)
        sync_s = time.monotonic() - started
        rejected = {r.dn: r.reason for r in report.rejected}
        findings = {f["dn"] for f in report.findings}
        failures: list[str] = []
        for entry in in_slapd:
            if entry.words is not None:
                if entry.dn not in rejected:
                    failures.append(f"{entry.kind}: {entry.dn} not named in the report")
                elif entry.words not in rejected[entry.dn]:
                    failures.append(f"{entry.kind}: {entry.dn}: {rejected[entry.dn]!r}")
            elif entry.dn in rejected:
                failures.append(f"{entry.kind}: valid {entry.dn} rejected: {rejected[entry.dn]!r}")
            elif entry.kind.startswith("NFD") and entry.dn not in findings:
                failures.append(f"{entry.kind}: {entry.dn} not reported as a data-quality finding")
        for person in existing:
            if f"{person.dn_rdn},{PEOPLE_BASE}" not in rejected:
                failures.append(f"{person.mail}: shares a mail with a new entry, yet not rejected")
        disables = [op for op in report.ops if op.kind == OpKind.DISABLE]
        # Keycloak: the valid new people are there, NFC and lower-case; the synced people sharing a mail enabled
        accepted = [e for e in in_slapd if e.words is None]
        for entry in rng.sample(accepted, min(20, len(accepted))):
            users = world.users(entry.attrs["mail"].lower())
            if len(users) != 1:
                failures.append(f"{entry.kind}: {entry.attrs['mail']} is {len(users)} users in Keycloak")
                continue
            user = users[0]
            expected = unicodedata.normalize("NFC", entry.attrs.get("sn", "Entry"))
            if user.get("email") != entry.attrs["mail"].lower():
                failures.append(f"{entry.kind}: Keycloak e-mail {user.get('email')!r}")
            if entry.kind.startswith("NFD") and user.get("lastName") not in (expected, entry.attrs["sn"]):
                failures.append(f"{entry.kind}: Keycloak lastName {user.get('lastName')!r}")
        wrong = [p.mail for p in existing if world.user(p.mail).get("enabled") is not True]
        # lookups by hostile values (the bridge's own LDAP filters) find nobody
        lookup = LdapDirectory(world.settings.directory)
        probes = [p for e in entries for p in e.probes] + ["*", "*)(uid=*", "*)(|(mail=*", "\\2a", "\\00"]
        matched = []
        try:
            for probe in probes:
                if lookup.find(probe) is not None:
                    matched.append(probe)
            units_probe = ["*", f"{existing[0].unit_code})(uid=*", "*)(departmentNumber=*"]
            injected_units = [u for u in units_probe if lookup.in_units([u])]
        finally:
            lookup.close()
        by_kind: dict[str, int] = {}
        for entry in in_slapd:
            by_kind[entry.kind] = by_kind.get(entry.kind, 0) + 1
        refused: dict[str, int] = {}
        for entry in refused_by_slapd:
            refused[entry.kind] = refused.get(entry.kind, 0) + 1
        hostile = [e for e in in_slapd if e.words is not None]
        return {
            "directory_people": SIZE,
            "generated": len(entries),
            "tried": len(in_slapd),
            "hostile": len(hostile),
            "valid": len(accepted),
            "by_kind": by_kind,
            "refused_by_slapd": refused,
            "rejected_by_dn": sum(1 for e in hostile if e.dn in rejected),
            "nfd_findings": sum(1 for e in in_slapd if e.kind.startswith("NFD") and e.dn in findings),
            "hostile_lookups_tried": len(probes) + len(units_probe),
            "hostile_lookups_matching_anyone": len(matched) + len(injected_units),
            "disables": len(disables),
            "wrong_disables": len(disables) + len(wrong),
            "failed_operations": len(report.failed),
            "server_errors": len(report.failed) + (report.status not in ("applied", "planned")),
            "sync_status": report.status,
            "sync_error": (report.error or "")[:600],
            "bulk_import": report.bulk is not None,
            "sync_s": round(sync_s, 1),
            "failed": len(failures),
            "lost": sum(1 for e in hostile if e.dn not in rejected),
            "failures": failures[:20],
            "matched": matched[:10] + injected_units,
        }


def check(result: dict[str, object]) -> None:
    assert result["failures"] == [], "\n".join(result["failures"])  # type: ignore[arg-type]
    assert result["hostile_lookups_matching_anyone"] == 0, result["matched"]
    assert result["wrong_disables"] == 0 and result["server_errors"] == 0, result
    assert result["sync_status"] == "applied", result
    assert result["lost"] == 0


def test_hundreds_of_hostile_entries_are_rejected_by_dn_in_a_real_sync(stack: Stack, units: UnitTree) -> None:
    started = time.monotonic()
    result = run_volume(stack, units, per_kind=PER_KIND, name="rel-hostile-dir", seed=1731)
    result["module_s"] = round(time.monotonic() - started, 1)
    record_result("hostile_input.directory_volume", result)
    check(result)
    assert int(result["tried"]) >= 300  # type: ignore[call-overload]


@pytest.mark.reliability_long
def test_thousands_of_hostile_entries_are_rejected_by_dn_in_a_real_sync(stack: Stack, units: UnitTree) -> None:
    result = run_volume(stack, units, per_kind=PER_KIND * LONG_FACTOR, name="rel-hostile-dir-long", seed=1732)
    record_result("hostile_input.directory_volume_long", result)
    check(result)
