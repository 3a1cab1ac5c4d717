"""The initial load of an empty realm as Keycloak user representations (the seed). Pure: no I/O.

Keycloak's own federation import gives every user a random id, so after it the bridge had to search for the
ids (one search per unit, every user returned checked against the directory: 877 s of a 1,365 s initial load at
100,000 people, issue 16) and then join each person to their unit group, one request per person. Seeding
writes each person the way Keycloak's LDAP import would (``federationLink``, ``LDAP_ID``, ``LDAP_ENTRY_DN`` and
the read-only mappers' attributes), with an id the bridge chooses and the unit group in the same
representation, so one ``partialImport`` request carries thousands of people (docs/decisions/0910).

The id is a uuid5 of a fixed namespace, the realm's name and the directory's uid (``uuidLDAPAttribute``): the
same person gets the same id on every attempt, so a retried batch cannot create a second account. The realm is
part of it because Keycloak's user ids are keys of the whole database, not of a realm (a second realm seeded with
the same ids was refused, 409 "Duplicate resource error").
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from bridge.adapters.directory.ldap import DirectoryEntry
from bridge.domain.sync.planner import Operation, OpKind

T = TypeVar("T")

#: Namespace of the seeded users' ids (uuid5 of it, the realm and the directory uid). Never change it: a seeded
#: realm's ids were derived from it.
SEED_NAMESPACE = uuid.UUID("6f1c3b52-9a0e-5d47-8b21-0b4b5853a916")

#: What Keycloak's LDAP import writes on an imported user (LDAPConstants.LDAP_ID / LDAP_ENTRY_DN).
LDAP_ID = "LDAP_ID"
LDAP_ENTRY_DN = "LDAP_ENTRY_DN"


def seeded_user_id(realm: str, uid: str) -> str:
    """The Keycloak id the seed gives the directory person ``uid`` in ``realm``. Pure, stable across runs."""
    return str(uuid.uuid5(SEED_NAMESPACE, f"{realm}\x1f{uid}"))


@dataclass(frozen=True, slots=True)
class MapperAttribute:
    """One read-only LDAP attribute mapper of the realm: the user attribute it fills from an entry field."""

    #: User-profile attribute name (``user.model.attribute``) when it is not a built-in field.
    name: str
    #: DirectoryEntry field holding the value.
    field: str


#: The realm's managed attributes (keycloak-config/realm.yaml ``managed_attributes``) by their LDAP attribute:
#: the DirectoryEntry field that holds the value the bridge read.
ENTRY_FIELD_OF_LDAP = {
    "departmentNumber": "unit_code",
    "employeeNumber": "employee_number",
    "title": "title",
    "displayName": "display_name",
}


def mapper_attributes(managed: Sequence[Mapping[str, str]]) -> tuple[MapperAttribute, ...]:
    """The custom attributes the seed writes, from realm.yaml's ``managed_attributes``. Pure.

    An attribute whose LDAP source the directory read does not carry is refused: seeding it empty would differ
    from what Keycloak's import writes.
    """
    out = []
    for attribute in managed:
        field = ENTRY_FIELD_OF_LDAP.get(attribute["ldap"])
        if field is None:
            raise ValueError(f"managed attribute {attribute['name']}: LDAP attribute {attribute['ldap']} is not read")
        out.append(MapperAttribute(name=attribute["name"], field=field))
    return tuple(out)


def user_representation(
    entry: DirectoryEntry, op: Operation, *, realm: str, component_id: str, attributes: Sequence[MapperAttribute]
) -> dict[str, Any]:
    """The Keycloak user of ``entry`` as the LDAP import writes it, with the planned ``op``'s unit group and
    ``enabled`` (a person under a hold is seeded disabled). Pure.

    Keycloak's mappers skip an empty LDAP value, so an empty field is left out, as the import leaves it.
    """
    if op.kind is not OpKind.ENSURE or op.group_path is None or op.mail != entry.mail:
        raise ValueError(f"not a joiner's operation for {entry.mail}: {op.kind.value} {op.mail}")
    values: dict[str, list[str]] = {LDAP_ID: [entry.uid], LDAP_ENTRY_DN: [entry.dn]}
    for attribute in attributes:
        value = getattr(entry, attribute.field)
        if value:
            values[attribute.name] = [value]
    user: dict[str, Any] = {
        "id": seeded_user_id(realm, entry.uid),
        "username": entry.mail,
        "email": entry.mail,
        "emailVerified": True,  # trustEmail: the import marks the directory's mail verified
        "enabled": op.enabled,
        "federationLink": component_id,
        "attributes": values,
        "groups": [op.group_path],
    }
    if entry.given_name:
        user["firstName"] = entry.given_name
    if entry.family_name:
        user["lastName"] = entry.family_name
    return user


def require_joiner(op: Operation) -> None:
    """Refuse an operation other than a joiner's: the plan of an empty realm has only those. Pure."""
    if op.kind is not OpKind.ENSURE:
        raise ValueError(f"the plan of an empty realm has only joiners; found {op.kind.value} {op.mail}")


def seed_representations(
    ops: Iterable[Operation],
    entries: Mapping[str, DirectoryEntry],
    *,
    realm: str,
    component_id: str,
    attributes: Sequence[MapperAttribute],
) -> Iterator[dict[str, Any]]:
    """A user representation per joiner of the plan (``entries`` by mail). Pure.

    Any other operation means the realm is not empty: the seed is for an empty realm only.
    """
    for op in ops:
        require_joiner(op)
        yield user_representation(entries[op.mail], op, realm=realm, component_id=component_id, attributes=attributes)


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``items`` in lists of ``size`` (the last one shorter). Pure."""
    if size < 1:
        raise ValueError("batch size must be at least 1")
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def partial_import_body(users: list[dict[str, Any]]) -> dict[str, Any]:
    """One ``partialImport`` request: users only; an existing one fails the whole request (nothing written).

    ``FAIL`` rather than ``SKIP`` or ``OVERWRITE``: the seed is for an empty realm, so an existing user means a
    concurrent import or a wrong realm, and Keycloak rolls the request back instead of half-applying it.
    """
    return {"ifResourceExists": "FAIL", "users": users}
