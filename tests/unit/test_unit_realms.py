"""Units mapped to realms (issue 15 part 1, docs/decisions/0702): units.yaml gives service providers their own
realm; the realm planner builds that realm with its own policy, applications and federation. Pure."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bridge.domain.catalogue import Application
from bridge.domain.realm_plan import LdapConnection, desired_realm
from bridge.domain.units import UnitTree
from bridge.errors import ConfigError

DAY = dt.date(2026, 11, 23)
LDAP = LdapConnection(url="ldap://127.0.0.1:3389", bind_dn="cn=r", bind_credential="pw", users_dn="ou=people")
REALM_YAML = (Path(__file__).parents[2] / "keycloak-config" / "realm.yaml").read_text(encoding="utf-8")
PROVIDERS = "bhxh-doitac"


def build(units: UnitTree, apps: tuple[Application, ...], realm: str | None = None, yaml_text: str = REALM_YAML):
    return desired_realm(realm_yaml=yaml_text, units=units, apps=apps, ldap=LDAP, bridge_client_id="bhxh-bridge",
                         bridge_client_secret="s", day=DAY, realm_name=realm)  # fmt: skip


def test_providers_and_their_descendants_are_in_the_provider_realm(units: UnitTree) -> None:
    assert units.realm_names() == ("bhxh", PROVIDERS)
    assert units.realm_of("DV001", DAY) == PROVIDERS  # inherited from DV000
    assert units.realm_of("01000", DAY) == "bhxh"
    assert units.codes_in_realm(PROVIDERS) == ("DV000", "DV001", "DV002", "DV003")
    renamed = units.single_realm("test-module")
    assert renamed.realm_names() == ("test-module",) and renamed.realm_of("DV001", DAY) == "test-module"


def test_provider_realm_has_its_own_policy_applications_and_federation(
    units: UnitTree, apps: tuple[Application, ...]
) -> None:
    realm = build(units, apps, PROVIDERS)
    assert realm.name == PROVIDERS
    assert realm.realm["ssoSessionMaxLifespan"] <= 8 * 3600
    assert {c["clientId"] for c in realm.clients} == {"tst", "gdbhyt"}  # only what providers are granted
    assert realm.ldap["config"]["customUserSearchFilter"] == (
        "(|(departmentNumber=DV000)(departmentNumber=DV001)(departmentNumber=DV002)(departmentNumber=DV003))"
    )
    # everyone: the OTP role sits on the unit root group every person's unit group lies under
    assert realm.admin_second_factor["group"] == units.group_root
    assert realm.admin_second_factor["role"] == "bhxh-doitac-otp"
    unit_groups = {g["path"] for g in realm.groups if g["path"].startswith(units.group_root)}
    assert unit_groups == {"/units", "/units/DV000", "/units/DV000/DV001", "/units/DV000/DV002", "/units/DV000/DV003"}
    assert realm.bridge_client["clientId"] == "bhxh-bridge"


def test_default_realm_federation_leaves_the_providers_out(units: UnitTree, apps: tuple[Application, ...]) -> None:
    realm = build(units, apps)
    assert realm.name == "bhxh"
    assert realm.ldap["config"]["customUserSearchFilter"].startswith("(!(|(departmentNumber=DV000)")
    single = build(units.single_realm("bhxh"), apps)
    assert "customUserSearchFilter" not in single.ldap["config"]


def test_a_realm_without_its_realm_yaml_section_is_refused(units: UnitTree, apps: tuple[Application, ...]) -> None:
    with pytest.raises(ConfigError, match=r"realms\.bhxh-doitac is missing"):
        build(units, apps, PROVIDERS, REALM_YAML.split("\nrealms:\n")[0])
    with pytest.raises(ConfigError, match="unknown NOPE"):
        build(units, apps, PROVIDERS, REALM_YAML.replace("applications: [TST, GDBHYT]", "applications: [TST, NOPE]"))


def test_a_realm_run_places_only_its_people_and_marks_realm_moves(units: UnitTree) -> None:
    from bridge.adapters.directory.ldap import DirectoryRead
    from bridge.domain.sync.desired import desired_state
    from bridge.domain.sync.planner import Operation, OpKind, Reason
    from bridge.domain.sync.realms import for_realm, mark_realm_moves, realm_leavers

    entries = [_entry("a@hanoi.vss.gov.vn", "01001"), _entry("p@hethongtt.com.vn", "DV001")]
    desired = desired_state(DirectoryRead(entries=entries), units, day=DAY)
    main, elsewhere = for_realm(desired, units, "bhxh")
    assert set(main.people) == {"a@hanoi.vss.gov.vn"} and elsewhere == {"p@hethongtt.com.vn"}
    providers, _ = for_realm(desired, units, PROVIDERS)
    assert set(providers.people) == {"p@hethongtt.com.vn"}
    leaver = Operation(OpKind.DISABLE, Reason.LEAVER, "gone@hanoi.vss.gov.vn", "01001", "u1")
    moved = Operation(OpKind.DISABLE, Reason.LEAVER, "p@hethongtt.com.vn", "01001", "u2")
    assert [op.reason for op in mark_realm_moves([leaver, moved], elsewhere)] == [Reason.LEAVER, Reason.REALM_MOVE]
    records = [("p@hethongtt.com.vn", "01001"), ("q@hethongtt.com.vn", "DV002")]
    assert realm_leavers(records, units, "bhxh", DAY) == {"p@hethongtt.com.vn"}
    assert realm_leavers(records, units, PROVIDERS, DAY) == {"q@hethongtt.com.vn"}


def _entry(mail: str, unit: str):  # type: ignore[no-untyped-def]
    from bridge.adapters.directory.ldap import DirectoryEntry

    return DirectoryEntry(dn=f"uid={mail.split('@')[0]},ou=people", mail=mail, uid=mail.split("@")[0], unit_code=unit,
                          display_name="Nguyễn Văn A", title="Chuyên viên", employee_number="BH1")  # fmt: skip
