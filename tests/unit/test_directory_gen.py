"""The generated directory looks like BHXH's and is the same for the same seed."""

from __future__ import annotations

import re
import unicodedata

from bridge.domain.units import UnitTree, UnitType
from bridge.testbed.directory_gen import ascii_fold, generate_people, password_for, person_ldif, ssha
from bridge.testbed.slapd_server import fingerprint

MAIL = re.compile(r"^[a-z]+\.[a-z]{2}\d*@([a-z]+\.vss\.gov\.vn|vss\.gov\.vn|[a-z.]+)$")


def test_same_seed_same_people_other_seed_other_people(units: UnitTree) -> None:
    assert fingerprint(generate_people(units, size=300)) == fingerprint(generate_people(units, size=300))
    assert fingerprint(generate_people(units, size=300)) != fingerprint(generate_people(units, size=300, seed=7))


def test_people_look_real(units: UnitTree) -> None:
    people = generate_people(units, size=2000)
    assert len({p.mail for p in people}) == 2000
    types = {units.require(p.unit_code, __import__("datetime").date(2025, 10, 1)).type for p in people}
    assert {UnitType.CENTRAL, UnitType.PROVINCE, UnitType.BRANCH, UnitType.PROVIDER} <= types
    for person in people:
        assert unicodedata.is_normalized("NFC", person.full_name)
        assert person.full_name.startswith(person.family_name + " ")
        assert MAIL.match(person.mail), person.mail
    hanoi = [p for p in people if p.unit_code.startswith("01")]
    assert hanoi and all(p.mail.endswith("@hanoi.vss.gov.vn") for p in hanoi)


def test_ascii_fold_and_ssha() -> None:
    assert ascii_fold("Đặng Thùy") == "dang thuy"
    value = ssha("secret", salt=b"12345678")
    assert value.startswith("{SSHA}") and len(value) == len("{SSHA}") + 40


def test_ldif_encodes_vietnamese_values_in_base64(units: UnitTree) -> None:
    person = generate_people(units, size=1)[0]
    ldif = person_ldif(person, "ou=people,dc=vss,dc=gov,dc=vn")
    assert "cn:: " in ldif and f"mail: {person.mail}" in ldif
    assert password_for(person.employee_number) not in ldif
