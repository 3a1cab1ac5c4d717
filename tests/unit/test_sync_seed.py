"""The seed's user representations (bridge.domain.sync.seed): what Keycloak's LDAP import would write, with the
bridge's id and the planner's unit group and ``enabled``; batches; refusal of anything but joiners."""

from __future__ import annotations

import uuid

import pytest

from bridge.adapters.directory.ldap import DirectoryEntry
from bridge.domain.sync import seed
from bridge.domain.sync.planner import Operation, OpKind, Reason

ATTRS = seed.mapper_attributes(
    [
        {"name": "unit_code", "ldap": "departmentNumber"},
        {"name": "employee_number", "ldap": "employeeNumber"},
        {"name": "title", "ldap": "title"},
        {"name": "display_name", "ldap": "displayName"},
    ]
)


def entry(n: int = 1, *, title: str = "Chuyên viên") -> DirectoryEntry:
    return DirectoryEntry(
        dn=f"uid=bh{n:07d},ou=people,dc=vss,dc=gov,dc=vn",
        mail=f"an.nv{n}@hanoi.vss.gov.vn",
        uid=f"bh{n:07d}",
        display_name="Nguyễn Văn An",
        unit_code="01001",
        title=title,
        employee_number=f"NV{n:05d}",
        given_name="An",
        family_name="Nguyễn Văn",
    )


def joiner(e: DirectoryEntry, *, enabled: bool = True) -> Operation:
    return Operation(OpKind.ENSURE, Reason.JOINER, e.mail, "01001", group_path="/units/01000/01001", enabled=enabled)


def test_representation_is_what_the_ldap_import_writes_with_the_bridges_id_and_unit_group() -> None:
    e = entry()
    user = seed.user_representation(e, joiner(e), realm="bhxh", component_id="ldap-1", attributes=ATTRS)
    assert user == {
        "id": seed.seeded_user_id("bhxh", "bh0000001"),
        "username": "an.nv1@hanoi.vss.gov.vn",
        "email": "an.nv1@hanoi.vss.gov.vn",
        "emailVerified": True,
        "enabled": True,
        "federationLink": "ldap-1",
        "firstName": "An",
        "lastName": "Nguyễn Văn",
        "attributes": {
            "LDAP_ID": ["bh0000001"],
            "LDAP_ENTRY_DN": ["uid=bh0000001,ou=people,dc=vss,dc=gov,dc=vn"],
            "unit_code": ["01001"],
            "employee_number": ["NV00001"],
            "title": ["Chuyên viên"],
            "display_name": ["Nguyễn Văn An"],
        },
        "groups": ["/units/01000/01001"],
    }


def test_person_under_a_hold_is_seeded_disabled_and_an_empty_value_is_left_out() -> None:
    e = entry(2, title="")
    user = seed.user_representation(e, joiner(e, enabled=False), realm="bhxh", component_id="c", attributes=ATTRS)
    assert user["enabled"] is False
    assert "title" not in user["attributes"]


def test_ids_are_stable_per_realm_and_differ_between_realms() -> None:
    a = seed.seeded_user_id("bhxh", "bh0000001")
    assert a == seed.seeded_user_id("bhxh", "bh0000001")
    assert uuid.UUID(a).version == 5
    assert a != seed.seeded_user_id("bhxh-2", "bh0000001")  # user ids are keys of the whole Keycloak database
    assert a != seed.seeded_user_id("bhxh", "bh0000002")


def test_only_joiners_can_be_seeded() -> None:
    e = entry()
    move = Operation(OpKind.MOVE, Reason.MOVER, e.mail, "01001", "id", "/units/01000/01001")
    with pytest.raises(ValueError, match="only joiners"):
        list(seed.seed_representations([move], {e.mail: e}, realm="r", component_id="c", attributes=ATTRS))


def test_batches_and_request_body() -> None:
    users = [{"n": i} for i in range(5)]
    assert [len(b) for b in seed.batched(users, 2)] == [2, 2, 1]
    assert seed.partial_import_body(users[:1]) == {"ifResourceExists": "FAIL", "users": [{"n": 0}]}
    with pytest.raises(ValueError):
        list(seed.batched(users, 0))


def test_unknown_ldap_source_of_a_managed_attribute_is_refused() -> None:
    with pytest.raises(ValueError, match="homePhone"):
        seed.mapper_attributes([{"name": "phone", "ldap": "homePhone"}])
