"""The unit tree: effective-dated lookups, and refusal of broken files with the line and the reason."""

from __future__ import annotations

import datetime as dt

import pytest

from bridge.domain.units import UnitTree, UnitType, parse_units
from bridge.errors import ConfigError

DAY = dt.date(2026, 11, 23)


def test_group_path_nests_branches_under_their_province(units: UnitTree) -> None:
    assert units.group_path("01003", DAY) == "/units/01000/01003"
    assert units.group_path("00012", DAY) == "/units/00012"
    assert units.group_path("00000", DAY) == "/units"


def test_province_of_a_branch_and_of_a_central_unit(units: UnitTree) -> None:
    province = units.province_of("79004", DAY)
    assert province is not None and province.code == "79000"
    assert units.province_of("00012", DAY) is None


def test_successor_follows_the_2025_reorganisation_chain(units: UnitTree) -> None:
    assert units.successor_on("01900", DAY) == "01000"  # BHXH Hà Nội (old) → khu vực I → BHXH TP Hà Nội
    assert units.successor_on("KV001", dt.date(2025, 5, 1)) == "KV001"
    assert units.successor_on("01009", DAY) == "01010"  # branch merged on 1 Oct 2025


def test_the_tree_differs_by_date(units: UnitTree) -> None:
    assert units.get("KV001", dt.date(2025, 4, 1)) is not None
    assert units.get("KV001", DAY) is None
    assert units.is_under("01009", "01000", dt.date(2025, 8, 1))
    assert not units.is_under("01009", "01000", DAY)


def test_mail_domains(units: UnitTree) -> None:
    assert units.mail_domain_of("01003", DAY) == "hanoi.vss.gov.vn"
    assert units.mail_domain_of("00012", DAY) == "vss.gov.vn"
    assert units.get("DV001", DAY) is not None and units.get("DV001", DAY).type is UnitType.PROVIDER  # type: ignore[union-attr]


HEADER = "realm: bhxh\nunits:\n- {code: '00000', name: Root, type: root, valid_from: 2020-01-01}\n"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "- {code: A, name: A, type: province, parent: NOPE, valid_from: 2025-07-01}\n",
            "line 4: unknown parent 'NOPE' of unit A",
        ),
        (
            "- {code: A, name: A, type: province, parent: B, valid_from: 2025-07-01}\n"
            "- {code: B, name: B, type: branch, parent: A, valid_from: 2025-07-01}\n",
            "line 4: cycle A → B → A",
        ),
        (
            "- {code: A, name: A, type: province, parent: '00000', valid_from: 2025-07-01}\n"
            "- {code: A, name: A2, type: province, parent: '00000', valid_from: 2025-07-01}\n",
            "line 5: duplicate code A (first at line 4)",
        ),
        (
            "- {code: A, name: A, type: province, parent: '00000', valid_from: 2025-01-01, valid_to: 2025-12-31}\n"
            "- {code: A, name: A2, type: province, parent: '00000', valid_from: 2025-07-01}\n",
            "line 5: overlapping validity for A (with line 4)",
        ),
        (
            "- {code: A, name: A, type: province, parent: '00000', valid_from: 2025-13-01}\n",
            "line 4: valid_from '2025-13-01' is not a date",
        ),
        (
            "- {code: A, name: A, type: kingdom, parent: '00000', valid_from: 2025-07-01}\n",
            "line 4: 'kingdom'",
        ),
        (
            "- {code: A, name: A, type: branch, parent: '00000', valid_from: 2025-07-01, valid_to: 2025-01-01}\n",
            "line 4: unit A ends (2025-01-01) before it starts",
        ),
    ],
    ids=[
        "unknown-parent",
        "cycle",
        "duplicate-code",
        "overlapping-validity",
        "bad-date",
        "bad-type",
        "ends-early",
    ],
)
def test_broken_unit_files_are_refused_with_line_and_reason(body: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_units(HEADER + body)
    assert expected in caught.value.message


def test_names_are_normalised_to_nfc() -> None:
    decomposed = "Bảo hiểm xã hội".encode().decode()  # the file may carry NFD text
    import unicodedata

    nfd = unicodedata.normalize("NFD", decomposed)
    tree = parse_units(
        HEADER + f"- {{code: A, name: '{nfd}', type: province, parent: '00000', valid_from: 2025-07-01}}\n"
    )
    assert tree.require("A", DAY).name == unicodedata.normalize("NFC", decomposed)
