"""The LDAP-backed directory lookup on a real slapd: answers, the TTL, the bound, and a directory outage.

The module starts its own slapd (no Keycloak needed) because some tests stop and restart it.
"""

from __future__ import annotations

import base64
import os
import signal
import time
import unicodedata
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from pydantic import SecretStr

from bridge.adapters.directory.ldap import LdapDirectory
from bridge.adapters.directory.lookup import DirectoryPerson
from bridge.domain.units import UnitTree
from bridge.errors import DirectoryUnavailable, TransientError
from bridge.settings import DirectorySettings
from bridge.testbed.directory_gen import Person, person_ldif
from bridge.testbed.slapd_server import PEOPLE_BASE, SlapdServer, start_slapd

pytestmark = pytest.mark.integration
TTL = 1.0


@pytest.fixture(scope="module")
def slapd(units: UnitTree) -> Iterator[SlapdServer]:
    server = start_slapd(units, size=400, seed=11)
    yield server
    server.close()


@pytest.fixture(autouse=True)
def directory_up(slapd: SlapdServer) -> Iterator[None]:
    """Every test starts and ends with slapd running, whatever a test did to it."""
    slapd.start()
    yield
    slapd.start()


def settings_of(slapd: SlapdServer, **overrides: object) -> DirectorySettings:
    return DirectorySettings(
        url=slapd.url,
        bind_dn=slapd.reader_dn,
        bind_password=SecretStr(slapd.reader_password),
        people_base=PEOPLE_BASE,
        **{"lookup_timeout_s": 3.0, **overrides},
    )


@pytest.fixture()
def lookup(slapd: SlapdServer) -> Iterator[LdapDirectory]:
    directory = LdapDirectory(settings_of(slapd, lookup_cache_ttl_s=TTL))
    yield directory
    directory.close()


def as_person(p: Person) -> DirectoryPerson:
    return DirectoryPerson(p.mail, p.full_name, p.unit_code, active=True, title=p.title)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def modify(slapd: SlapdServer, person: Person, attribute: str, value: str) -> None:
    slapd.modify(
        f"dn: {person.dn_rdn},{PEOPLE_BASE}\nchangetype: modify\nreplace: {attribute}\n{attribute}:: {b64(value)}\n"
    )


def test_find_by_email_in_any_case_and_normal_form(slapd: SlapdServer, lookup: LdapDirectory) -> None:
    someone = next(p for p in slapd.people if "k" in p.mail.split("@")[0])
    expected = as_person(someone)
    kelvin = someone.mail.replace("k", "\u212a", 1)  # KELVIN SIGN: its NFC form is "K"
    assert kelvin != someone.mail and unicodedata.normalize("NFC", kelvin) != kelvin
    for variant in (someone.mail, someone.mail.upper(), f"  {someone.mail.title()} ", kelvin):
        assert lookup.find(variant) == expected, variant
    fresh = LdapDirectory(settings_of(slapd))  # not from the cache: each variant reaches the directory alike
    try:
        assert fresh.find(kelvin) == expected
        assert fresh.find(unicodedata.normalize("NFD", someone.mail.upper())) == expected
    finally:
        fresh.close()


def test_names_and_mail_are_read_normalised_whatever_the_directory_holds(
    slapd: SlapdServer, lookup: LdapDirectory
) -> None:
    someone = next(p for p in slapd.people[320:] if unicodedata.normalize("NFD", p.full_name) != p.full_name)
    modify(slapd, someone, "displayName", unicodedata.normalize("NFD", someone.full_name))
    modify(slapd, someone, "mail", someone.mail.upper())
    found = lookup.find(someone.mail)
    assert found is not None and (found.full_name, found.email) == (someone.full_name, someone.mail)


def test_unknown_and_hostile_addresses_find_nobody(slapd: SlapdServer, lookup: LdapDirectory) -> None:
    anyone = slapd.people[0].mail
    for address in (
        "khong.co@vss.gov.vn",
        "*",
        "*@vss.gov.vn",
        f"{anyone[:4]}*",
        f"{anyone})(mail=*",
        "nguyễn.văn.an@vss.gov.vn",
        "",
        "no-at-sign",
    ):
        assert lookup.find(address) is None, address


def test_in_units_lists_each_units_people_by_email(slapd: SlapdServer, lookup: LdapDirectory) -> None:
    counts: dict[str, int] = {}
    for p in slapd.people:
        counts[p.unit_code] = counts.get(p.unit_code, 0) + 1
    codes = sorted(counts, key=lambda c: -counts[c])[:3]
    expected = sorted((as_person(p) for p in slapd.people if p.unit_code in codes), key=lambda p: p.email)
    assert list(lookup.in_units(codes)) == expected
    assert list(lookup.in_units(codes)) == expected  # the second answer comes from the cache
    assert list(lookup.in_units(codes[:1])) == [p for p in expected if p.unit_code == codes[0]]
    assert list(lookup.in_units(["99999"])) == []
    assert list(lookup.in_units([])) == []
    one = expected[0]
    assert lookup.find(one.email) == one  # in_units warmed the answers by e-mail too


def test_a_change_is_seen_once_the_ttl_has_passed(slapd: SlapdServer, lookup: LdapDirectory) -> None:
    someone = slapd.people[300]  # people from 300 on are changed by the tests; the others stay as generated
    other_unit = next(p.unit_code for p in slapd.people if p.unit_code != someone.unit_code)
    before = lookup.find(someone.mail)
    assert before is not None and before.title == someone.title
    assert someone.mail in {p.email for p in lookup.in_units([someone.unit_code])}
    read_at = time.monotonic()
    modify(slapd, someone, "title", "Phó Giám đốc")
    modify(slapd, someone, "departmentNumber", other_unit)
    assert lookup.find(someone.mail) == before  # younger than the TTL: still the cached answer
    time.sleep(max(0.0, read_at + TTL - time.monotonic()) + 0.05)
    after = lookup.find(someone.mail)
    assert after is not None and (after.title, after.unit_code) == ("Phó Giám đốc", other_unit)
    assert someone.mail not in {p.email for p in lookup.in_units([someone.unit_code])}
    assert someone.mail in {p.email for p in lookup.in_units([other_unit])}


def test_the_cache_stays_within_its_bound(slapd: SlapdServer) -> None:
    lookup = LdapDirectory(settings_of(slapd, lookup_cache_size=50))
    try:
        people = slapd.people[:120]
        for p in people:
            assert lookup.find(p.mail) == as_person(p)
        assert len(lookup.cache) == 50
        everyone = {p.unit_code for p in slapd.people}
        assert len(lookup.in_units(everyone)) == len(slapd.people)
        assert len(lookup.cache) == 50
        assert lookup.find(people[0].mail) == as_person(people[0])  # dropped long ago: read again
    finally:
        lookup.close()


def test_an_outage_refuses_to_decide_on_an_old_answer(slapd: SlapdServer, lookup: LdapDirectory) -> None:
    known, unknown_yet = slapd.people[20], slapd.people[21]
    # Several threads at once, so the pool holds several connections that the outage will break.
    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(lookup.find, [p.mail for p in slapd.people[30:42]]))
    read_at = time.monotonic()
    assert lookup.find(known.mail) == as_person(known)
    slapd.stop()
    with pytest.raises(DirectoryUnavailable) as refused:
        lookup.find(unknown_yet.mail)
    assert refused.value.status == 503 and refused.value.code == "directory-unavailable"
    assert isinstance(refused.value, TransientError)
    with pytest.raises(DirectoryUnavailable):
        lookup.in_units(["99999"])
    if time.monotonic() - read_at < TTL:
        assert lookup.find(known.mail) == as_person(known)  # younger than the TTL: still an answer
    time.sleep(max(0.0, read_at + TTL - time.monotonic()) + 0.05)
    with pytest.raises(DirectoryUnavailable):
        lookup.find(known.mail)  # older than the TTL: never served
    slapd.start()
    assert lookup.find(known.mail) == as_person(known)
    assert lookup.find(unknown_yet.mail) == as_person(unknown_yet)
    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(lookup.find, [p.mail for p in slapd.people[30:42]]))


def test_a_hung_directory_answers_503_within_the_timeout(slapd: SlapdServer) -> None:
    lookup = LdapDirectory(settings_of(slapd, lookup_timeout_s=1.0))
    assert slapd.process is not None
    try:
        assert lookup.find(slapd.people[80].mail) is not None  # one pooled connection, which will hang
        os.kill(slapd.process.pid, signal.SIGSTOP)
        for p in slapd.people[81:83]:
            started = time.monotonic()
            with pytest.raises(DirectoryUnavailable, match="no answer within 1 s"):
                lookup.find(p.mail)
            assert time.monotonic() - started < 1.9  # one wait, not one per connection tried
        os.kill(slapd.process.pid, signal.SIGCONT)
        assert lookup.find(slapd.people[81].mail) == as_person(slapd.people[81])
    finally:
        os.kill(slapd.process.pid, signal.SIGCONT)
        lookup.close()


def test_a_restart_between_two_lookups_goes_unnoticed(slapd: SlapdServer, lookup: LdapDirectory) -> None:
    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(lookup.find, [p.mail for p in slapd.people[50:62]]))
    slapd.stop()
    slapd.start()
    lookup.cache.clear()
    for p in slapd.people[50:54]:
        assert lookup.find(p.mail) == as_person(p)


def test_the_syncs_full_read_warms_the_cache_and_tells_who_left(slapd: SlapdServer) -> None:
    lookup = LdapDirectory(settings_of(slapd, lookup_cache_ttl_s=60))
    try:
        leaver, stayer = slapd.people[310], slapd.people[71]
        assert lookup.find(leaver.mail) is not None
        slapd.delete([f"{leaver.dn_rdn},{PEOPLE_BASE}"])
        read = lookup.read_people()
        assert read.complete and len(read.entries) == len(slapd.people) - 1
        assert len(lookup.cache) == len(slapd.people)
        slapd.stop()  # everything below is answered from the sync's read
        assert lookup.find(leaver.mail) is None
        assert lookup.find(stayer.mail) == as_person(stayer)
        with pytest.raises(DirectoryUnavailable):
            lookup.find("chua.doc@vss.gov.vn")  # never read: no answer to give
    finally:
        lookup.close()
        slapd.start()
        slapd.ldap_cli("ldapadd", person_ldif(leaver, PEOPLE_BASE))
