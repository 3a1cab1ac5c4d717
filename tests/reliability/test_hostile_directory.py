"""Hostile directory entries and names in decomposed Unicode on the test bed's real slapd (issue 17).

Entries with LDAP filter characters in uid and mail (a mail ``*)(uid=*``), a 10 kB name, control characters
and right-to-left marks are added to the live directory through ldapadd. The sync's read rejects each of them,
named by its DN (printed safely) in the run report, and the bridge's own lookups escape what they search for,
so a hostile address finds nothing instead of everyone. A person whose name the directory holds only in NFD
(a "tổ hợp" input method) is usable: the bridge uses and stores the NFC form and reports the entry, with its
DN, as a data-quality finding for the IT Center.
"""

from __future__ import annotations

import asyncio
import base64
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import ldap3
import pytest
from sqlalchemy import select

from bridge.adapters.directory.ldap import PEOPLE_FILTER, LdapDirectory, _connect, read_people
from bridge.adapters.store.migrate import upgrade
from bridge.adapters.store.session import make_engine
from bridge.adapters.store.sync_models import SyncRun
from bridge.clock import today_vn
from bridge.services.sync.run import NFD_FINDING, run_sync
from bridge.testbed.slapd_server import PEOPLE_BASE
from bridge.testbed.stack import Stack

pytestmark = pytest.mark.integration
DOMAIN = "baohiemxahoi.gov.vn"
NFD_NAME = unicodedata.normalize("NFD", "Nguyễn Thị Hồng Nhung")


def _ldif(rdn: str, **attrs: str) -> str:
    """An LDIF add record, every value base64-encoded (LDIF's only way to carry control characters)."""

    def line(name: str, value: str) -> str:
        return f"{name}:: {base64.b64encode(value.encode()).decode()}"

    number = rdn.split("=", 1)[1]  # the RDN is employeeNumber=…, so hostile uids need not name the entry
    values = {"cn": "Hostile Entry", "sn": "Entry", "departmentNumber": "01000", "title": "Chuyên viên",
              "employeeNumber": number} | attrs  # fmt: skip
    body = "\n".join(line(k, v) for k, v in values.items())
    return f"{line('dn', f'{rdn},{PEOPLE_BASE}')}\nchangetype: add\nobjectClass: inetOrgPerson\n{body}\n"


#: employeeNumber of the entry's RDN → (attributes, the words the rejection must name).
HOSTILE: dict[str, tuple[dict[str, str], str]] = {
    "i17-star-mail": ({"uid": "i17-star-mail", "mail": "*)(uid=*"}, "mail contains LDAP filter characters"),
    "i17-paren-mail": ({"uid": "i17-paren-mail", "mail": f"a)(objectClass=*@{DOMAIN}"},
                           "mail contains LDAP filter characters"),
    "i17-star-uid": ({"uid": "*)(mail=*", "mail": f"i17.star.uid@{DOMAIN}"}, "uid contains LDAP filter"),
    "i17-backslash-uid": ({"uid": "i17\\2a", "mail": f"i17.backslash@{DOMAIN}"}, "uid contains LDAP filter"),
    "i17-long-name": ({"uid": "i17-long-name", "mail": f"i17.long@{DOMAIN}", "displayName": "Nguyễn " * 1463},
                      "longer than 256 characters"),
    "i17-control": ({"uid": "i17-control", "mail": f"i17.control@{DOMAIN}", "displayName": "Trần\x07Văn\x1bA"},
                        "control characters"),
    "i17-rtl": ({"uid": "i17-rtl", "mail": f"i17.rtl@{DOMAIN}", "displayName": "Lê Văn \u202eB\u202c"},
                    "bidirectional (RTL) marks"),
    # mail is IA5String in slapd, which refuses a non-ASCII mark there itself; uid is a UTF-8 directoryString
    "i17-rlm-uid": ({"uid": "i17\u200fadmin", "mail": f"i17.rlm@{DOMAIN}"}, "bidirectional (RTL) marks"),
    "i17-not-a-mail": ({"uid": "i17-not-a-mail", "mail": "no-at-sign"}, "not an e-mail address"),
}  # fmt: skip
NFD_RDN = "employeeNumber=i17-nfd"
RDN = "employeeNumber={}"
NFD_MAIL = f"i17.nfd@{DOMAIN}"


@pytest.fixture(scope="module")
def hostile(stack: Stack) -> Iterator[Stack]:
    records = [_ldif(RDN.format(key), **attrs) for key, (attrs, _) in HOSTILE.items()]
    records.append(_ldif(NFD_RDN, uid="i17-nfd", mail=NFD_MAIL, cn=NFD_NAME, displayName=NFD_NAME))
    stack.slapd.modify("\n".join(records))
    yield stack
    stack.slapd.delete([f"{RDN.format(key)},{PEOPLE_BASE}" for key in HOSTILE] + [f"{NFD_RDN},{PEOPLE_BASE}"])


def test_the_sync_read_rejects_each_hostile_entry_by_dn(hostile: Stack) -> None:
    read = read_people(hostile.settings.directory)
    rejected = {r.dn: r for r in read.rejected}
    for key, (_, words) in HOSTILE.items():
        dn = f"{RDN.format(key)},{PEOPLE_BASE}"
        assert dn in rejected, f"{dn} not rejected"
        assert words in rejected[dn].reason, (dn, rejected[dn].reason)
        assert all(not unicodedata.category(c).startswith("C") for c in rejected[dn].reason)
    # a hostile mail is not kept as an address an account could have; a sound one is (that account is left alone)
    assert rejected[f"employeeNumber=i17-star-mail,{PEOPLE_BASE}"].mail == ""
    assert rejected[f"employeeNumber=i17-control,{PEOPLE_BASE}"].mail == f"i17.control@{DOMAIN}"
    usable = {e.mail for e in read.entries}
    assert not {f"i17.star.uid@{DOMAIN}", f"i17.long@{DOMAIN}", f"i17.rtl@{DOMAIN}"} & usable
    # every generated person is still read, and of this test's entries only the NFD person (other tests of the
    # session may have added entries of their own to the shared directory)
    assert {p.mail for p in hostile.slapd.people} <= usable
    ours = {e.mail for e in read.entries if e.dn.startswith("employeeNumber=i17-")}
    assert ours == {unicodedata.normalize("NFC", NFD_MAIL)}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _every_entry(conn: ldap3.Connection, people_base: str) -> dict[str, dict[str, list[bytes]]]:
    """DN → lower-cased attribute name → raw values of every entry under ``people_base``: all user and
    operational attributes, paged."""
    found: dict[str, dict[str, list[bytes]]] = {}
    cookie = None
    while True:
        assert conn.search(people_base, PEOPLE_FILTER, search_scope=ldap3.LEVEL, attributes=["*", "+"],
                           paged_size=300, paged_cookie=cookie), conn.result  # fmt: skip
        for item in conn.response:
            if item["type"] == "searchResEntry":
                found[item["dn"]] = {name.lower(): list(values) for name, values in item["raw_attributes"].items()}
        cookie = conn.result["controls"]["1.2.840.113556.1.4.319"]["value"]["cookie"]
        if not cookie:
            return found


def test_the_adapters_lean_entry_decoding_equals_ldap3s_own_on_the_live_directory(hostile: Stack) -> None:
    """The adapter's connections decode search entries into raw values only (decision 0912): on the live
    directory, hostile and NFD entries included, every DN and every value of every attribute is what ldap3's own
    decoder gives."""
    directory = hostile.settings.directory
    # an entry of many values: superclasses, two names and titles, and arbitrary bytes (an octet-string photo)
    many = f"employeeNumber=i17-many-values,{PEOPLE_BASE}"
    photo = bytes(range(256)) * 3
    hostile.slapd.modify(
        f"dn: {many}\nchangetype: add\n"
        + "".join(f"objectClass: {c}\n" for c in ("top", "person", "organizationalPerson", "inetOrgPerson"))
        + f"uid: i17-many-values\nmail: i17.many@{DOMAIN}\ncn: Nhiều Giá Trị\ncn:: {b64('Nguyễn Văn Nhiều')}\n"
        + f"sn: Trị\ndepartmentNumber: 01000\ntitle: Chuyên viên\ntitle:: {b64('Phó Trưởng phòng')}\n"
        + f"jpegPhoto:: {base64.b64encode(photo).decode()}\n"
    )
    server = ldap3.Server(directory.url, get_info=ldap3.NONE)
    plain = ldap3.Connection(server, user=directory.bind_dn, password=directory.bind_password.get_secret_value(),
                             auto_bind=True, read_only=True)  # fmt: skip
    lean = _connect(directory)
    try:
        theirs, ours = _every_entry(plain, directory.people_base), _every_entry(lean, directory.people_base)
        someone = f"(mail={hostile.slapd.people[0].mail})"
        assert lean.search(directory.people_base, someone, search_scope=ldap3.LEVEL, attributes=["mail"])
        assert set(lean.response[0]) == {"type", "dn", "raw_attributes"}  # ldap3's second dictionary is not built
    finally:
        plain.unbind()
        lean.unbind()
        hostile.slapd.delete([many])
    assert ours[many]["objectclass"] == [b"top", b"person", b"organizationalPerson", b"inetOrgPerson"]
    assert ours[many]["title"] == ["Chuyên viên".encode(), "Phó Trưởng phòng".encode()]
    assert ours[many]["jpegphoto"] == [photo]
    assert len(theirs) >= len(hostile.slapd.people) + len(HOSTILE) + 1
    assert {f"{RDN.format(key)},{PEOPLE_BASE}" for key in HOSTILE} <= set(ours)
    assert ours == theirs


def test_the_nfd_person_is_usable_in_nfc_and_reported_with_its_dn(hostile: Stack) -> None:
    read = read_people(hostile.settings.directory)
    (entry,) = [e for e in read.entries if e.mail == NFD_MAIL]
    assert entry.display_name == unicodedata.normalize("NFC", NFD_NAME) != NFD_NAME
    assert set(entry.decomposed) == {"cn", "displayName"}
    assert not [e for e in read.entries if e.decomposed and e.mail != NFD_MAIL]  # generated people are NFC


def test_lookups_escape_hostile_values(hostile: Stack) -> None:
    lookup = LdapDirectory(hostile.settings.directory)
    try:
        assert lookup.find("*") is None  # unescaped, this would match the first person of the directory
        assert lookup.find("*)(uid=*") is None  # the hostile entry itself is rejected, and nobody else matches
        assert lookup.find(f"a)(objectClass=*@{DOMAIN}") is None
        assert lookup.in_units(["*"]) == [] and lookup.in_units(["01000)(uid=*"]) == []
        assert lookup.in_units(["01000"])  # the same call with a real unit finds its people
        # the NFD person is found by its address in either form, and answered in NFC
        found = lookup.find(unicodedata.normalize("NFD", NFD_MAIL.upper()))
        assert found is not None and found.full_name == unicodedata.normalize("NFC", NFD_NAME)
    finally:
        lookup.close()


def test_the_run_report_names_rejections_and_findings(hostile: Stack, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bridge.sqlite3'}"
    upgrade(url=url)
    settings = hostile.settings.model_copy(update={"store": hostile.settings.store.model_copy(update={"url": url})})
    report = asyncio.run(run_sync(settings=settings, units=hostile.units, day=today_vn(), full=True, dry_run=True))
    assert report.status == "planned", report.error
    named = {r.dn for r in report.rejected}
    assert {f"{RDN.format(key)},{PEOPLE_BASE}" for key in HOSTILE} <= named
    assert report.findings == [{"dn": f"{NFD_RDN},{PEOPLE_BASE}", "attributes": "displayName, cn",
                                "problem": NFD_FINDING}]  # fmt: skip
    engine = make_engine(url)
    with engine.connect() as conn:
        stored = conn.execute(select(SyncRun.report).where(SyncRun.id == report.run_id)).scalar_one()
    engine.dispose()
    assert stored["data_quality"][0]["dn"] == f"{NFD_RDN},{PEOPLE_BASE}" and stored["data_quality_total"] == 1
    assert {f"{RDN.format(key)},{PEOPLE_BASE}" for key in HOSTILE} <= {r["dn"] for r in stored["rejected"]}
