"""A deterministic generator of a directory that looks like BHXH's official mail directory.

Vietnamese full names in NFC with the family name first, staff spread over the 2025 unit tree (central units,
provincial offices, local branches, service providers), ``<local>@<slug>.vss.gov.vn`` addresses, titles,
employee numbers and SSHA passwords. The same seed and size always give the same people, so tests and
benchmarks can name them.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import random
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from bridge.domain.units import UnitTree, UnitType

FAMILY_NAMES = [
    ("Nguyễn", 38),
    ("Trần", 11),
    ("Lê", 9),
    ("Phạm", 7),
    ("Hoàng", 4),
    ("Huỳnh", 3),
    ("Phan", 4),
    ("Vũ", 3),
    ("Võ", 3),
    ("Đặng", 2),
    ("Bùi", 2),
    ("Đỗ", 2),
    ("Hồ", 1),
    ("Ngô", 1),
    ("Dương", 1),
    ("Lý", 1),
    ("Đinh", 1),
    ("Trịnh", 1),
    ("Mai", 1),
    ("Tạ", 1),
]
MIDDLE_MALE = ["Văn", "Đức", "Minh", "Quang", "Hữu", "Công", "Thành", "Xuân", "Mạnh", "Tuấn", "Hoàng", "Ngọc"]
MIDDLE_FEMALE = ["Thị", "Thu", "Thanh", "Ngọc", "Minh", "Hồng", "Phương", "Kim", "Thùy", "Bích", "Mai"]
GIVEN_MALE = [
    "An",
    "Bình",
    "Cường",
    "Dũng",
    "Đức",
    "Giang",
    "Hải",
    "Hiếu",
    "Hùng",
    "Huy",
    "Khánh",
    "Long",
    "Minh",
    "Nam",
    "Phong",
    "Phúc",
    "Quân",
    "Sơn",
    "Thắng",
    "Thành",
    "Trung",
    "Tuấn",
    "Việt",
    "Vinh",
]
GIVEN_FEMALE = [
    "Anh",
    "Chi",
    "Dung",
    "Hà",
    "Hạnh",
    "Hiền",
    "Hoa",
    "Hương",
    "Lan",
    "Linh",
    "Loan",
    "Mai",
    "Ngân",
    "Nga",
    "Nhung",
    "Phương",
    "Quỳnh",
    "Thảo",
    "Thủy",
    "Trang",
    "Uyên",
    "Vân",
    "Yến",
]
TITLES_CENTRAL = [
    ("Trưởng ban", 1),
    ("Phó Trưởng ban", 2),
    ("Trưởng phòng", 4),
    ("Phó Trưởng phòng", 6),
    ("Chuyên viên chính", 20),
    ("Chuyên viên", 55),
    ("Cán sự", 12),
]
TITLES_PROVINCE = [
    ("Giám đốc", 1),
    ("Phó Giám đốc", 2),
    ("Trưởng phòng", 5),
    ("Phó Trưởng phòng", 7),
    ("Chuyên viên", 50),
    ("Kế toán viên", 10),
    ("Cán sự", 15),
    ("Nhân viên", 10),
]
TITLES_BRANCH = [
    ("Giám đốc", 1),
    ("Phó Giám đốc", 3),
    ("Chuyên viên", 50),
    ("Kế toán viên", 12),
    ("Cán sự", 20),
    ("Nhân viên", 14),
]
TITLES_PROVIDER = [("Kỹ sư", 50), ("Nhân viên đại lý thu", 30), ("Chuyên viên tư vấn", 20)]
PASSWORD_KEY = b"bhxh-testbed-passwords"  # test data only: the generated directory is public fixture data


@dataclass(frozen=True)
class Person:
    """One entry of the official mail directory."""

    uid: str
    full_name: str
    family_name: str
    given_name: str
    mail: str
    unit_code: str
    title: str
    employee_number: str

    @property
    def dn_rdn(self) -> str:
        """Relative DN of the entry."""
        return f"uid={self.uid}"


def password_for(employee_number: str) -> str:
    """The generated (test) password of a person; deterministic so tests can log in as anyone."""
    tag = hmac.new(PASSWORD_KEY, employee_number.encode(), hashlib.sha256).hexdigest()[:10]
    return f"Bh!{tag}"


def ssha(password: str, *, salt: bytes) -> str:
    """An RFC 2307 ``{SSHA}`` value, the form OpenLDAP stores."""
    digest = hashlib.sha1(password.encode() + salt, usedforsecurity=False).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def ascii_fold(text: str) -> str:
    """Lower-case ASCII of a Vietnamese string (``Đặng`` → ``dang``) for e-mail local parts."""
    text = text.replace("Đ", "D").replace("đ", "d")
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def _weighted(rng: random.Random, table: list[tuple[str, int]]) -> str:
    return rng.choices([v for v, _ in table], weights=[w for _, w in table])[0]


def _unit_weights(units: UnitTree, day: dt.date) -> list[tuple[str, int]]:
    weights: list[tuple[str, int]] = []
    for unit in units.on(day).values():
        weight = {UnitType.CENTRAL: 12, UnitType.PROVINCE: 30, UnitType.BRANCH: 12, UnitType.PROVIDER: 2}.get(
            unit.type, 0
        )
        if unit.code in ("00012",):
            weight = 20
        if unit.type is UnitType.PROVIDER and unit.parent is None:
            weight = 0
        if weight and not (unit.type is UnitType.PROVIDER and not unit.sponsor):
            weights.append((unit.code, weight))
    return sorted(weights)


def generate_people(units: UnitTree, *, size: int, seed: int = 2025, day: dt.date | None = None) -> list[Person]:
    """``size`` people spread over the units valid on ``day``, deterministic for ``(seed, size)``."""
    day = day or dt.date(2025, 10, 1)
    rng = random.Random(seed)
    unit_weights = _unit_weights(units, day)
    taken: set[str] = set()
    people: list[Person] = []
    for index in range(size):
        female = rng.random() < 0.55
        family = _weighted(rng, FAMILY_NAMES)
        middle = rng.choice(MIDDLE_FEMALE if female else MIDDLE_MALE)
        given = rng.choice(GIVEN_FEMALE if female else GIVEN_MALE)
        unit_code = _weighted(rng, unit_weights)
        unit = units.require(unit_code, day)
        titles = {
            UnitType.CENTRAL: TITLES_CENTRAL,
            UnitType.PROVINCE: TITLES_PROVINCE,
            UnitType.BRANCH: TITLES_BRANCH,
        }.get(unit.type, TITLES_PROVIDER)
        domain = units.mail_domain_of(unit_code, day)
        base = f"{ascii_fold(given)}.{ascii_fold(family)[0]}{ascii_fold(middle)[0]}"
        local, n = base, 1
        while f"{local}@{domain}" in taken:
            n += 1
            local = f"{base}{n}"
        mail = f"{local}@{domain}"
        taken.add(mail)
        employee_number = f"BH{index + 1:07d}"
        people.append(
            Person(
                uid=employee_number.lower(),
                full_name=unicodedata.normalize("NFC", f"{family} {middle} {given}"),
                family_name=unicodedata.normalize("NFC", family),
                given_name=unicodedata.normalize("NFC", f"{middle} {given}"),
                mail=mail,
                unit_code=unit_code,
                title=_weighted(rng, titles),
                employee_number=employee_number,
            )
        )
    return people


def person_ldif(person: Person, people_base: str, *, with_password: bool = True) -> str:
    """The LDIF record of one person (UTF-8 values base64-encoded, as LDIF requires for non-ASCII)."""

    def attr(name: str, value: str) -> str:
        if value.isascii():
            return f"{name}: {value}"
        return f"{name}:: {base64.b64encode(value.encode()).decode()}"

    lines = [
        f"dn: {person.dn_rdn},{people_base}",
        "objectClass: inetOrgPerson",
        attr("uid", person.uid),
        attr("cn", person.full_name),
        attr("displayName", person.full_name),
        attr("sn", person.family_name),
        attr("givenName", person.given_name),
        attr("mail", person.mail),
        attr("title", person.title),
        attr("employeeNumber", person.employee_number),
        attr("departmentNumber", person.unit_code),
    ]
    if with_password:
        salt = hashlib.sha256(person.employee_number.encode()).digest()[:8]
        lines.append(f"userPassword: {ssha(password_for(person.employee_number), salt=salt)}")
    return "\n".join(lines) + "\n"


def directory_ldif(people: Iterable[Person], base_dn: str, people_base: str) -> Iterator[str]:
    """The whole directory as LDIF chunks: base entry, people OU, then every person."""
    dc = base_dn.split(",")[0].split("=")[1]
    yield f"dn: {base_dn}\nobjectClass: dcObject\nobjectClass: organization\no: BHXH Viet Nam\ndc: {dc}\n\n"
    ou = people_base.split(",")[0].split("=")[1]
    yield f"dn: {people_base}\nobjectClass: organizationalUnit\nou: {ou}\n\n"
    for person in people:
        yield person_ldif(person, people_base) + "\n"
