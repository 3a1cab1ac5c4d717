"""The two "Credentials" questions of architecture.md, answered on the real Keycloak and slapd.

(a) Can the bridge's service account disable and regroup an LDAP-imported (READ_ONLY) user?
(b) Do fine-grained admin permissions v2 limit a provincial administrator to their units' users?
Findings are written in docs/decisions/0003-credentials-findings.md.
"""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from bridge.adapters.keycloak.admin import KeycloakAdmin
from bridge.adapters.keycloak.console_permissions import ensure_province_console_scope
from bridge.domain.catalogue import Application, by_code
from bridge.errors import Forbidden
from bridge.testbed.directory_gen import password_for, person_ldif
from bridge.testbed.relying_party import RelyingParty
from bridge.testbed.slapd_server import PEOPLE_BASE
from bridge.testbed.stack import Stack
from tests.integration.sync_world import new_person
from tests.integration.test_foundation import group_id, person_in, relying_party, user_id

pytestmark = pytest.mark.integration


def test_a_bridge_disables_and_regroups_an_ldap_user_but_cannot_write_attributes(
    stack: Stack,
    admin: KeycloakAdmin,
    bridge_admin: KeycloakAdmin,
    apps: tuple[Application, ...],
    today: dt.date,
) -> None:
    person = person_in(stack, "01", 5)
    uid = user_id(bridge_admin, person)
    user = bridge_admin.get(f"users/{uid}")
    assert user["federationLink"], "the user must come from the LDAP federation"
    rp = relying_party(admin, stack, by_code(apps, "TST"))
    password = password_for(person.employee_number)

    bridge_admin.put(f"users/{uid}", {"enabled": False})
    assert bridge_admin.get(f"users/{uid}")["enabled"] is False
    with pytest.raises(Forbidden):
        rp.login(person.mail, password)
    bridge_admin.put(f"users/{uid}", {"enabled": True})
    assert rp.login(person.mail, password).id_claims["email"] == person.mail

    old_path = stack.units.group_path(person.unit_code, today)
    new_path = stack.units.group_path("01002" if person.unit_code != "01002" else "01003", today)
    bridge_admin.put(f"users/{uid}/groups/{group_id(bridge_admin, old_path)}", {})
    bridge_admin.put(f"users/{uid}/groups/{group_id(bridge_admin, new_path)}", {})
    bridge_admin.delete(f"users/{uid}/groups/{group_id(bridge_admin, old_path)}")
    assert [g["path"] for g in bridge_admin.get(f"users/{uid}/groups")] == [new_path]

    with pytest.raises(Exception, match=r"400.*(not writable|read-only)"):
        bridge_admin.put(f"users/{uid}", {**bridge_admin.get(f"users/{uid}"), "attributes": {"unit_code": ["99999"]}})
    assert bridge_admin.get(f"users/{uid}")["attributes"]["unit_code"] == [person.unit_code]


def _console_token(stack: Stack, email: str, password: str) -> str:
    """A province administrator's token from the real admin-console login (public client, PKCE)."""
    console = RelyingParty(
        issuer=f"{stack.settings.keycloak.url}/realms/bhxh",
        client_id="security-admin-console",
        client_secret=None,
        redirect_uri=f"{stack.settings.keycloak.url}/admin/bhxh/console/",
    )
    return str(console.login(email, password).tokens["access_token"])


def test_b_fgap_v2_limits_a_province_administrator_for_ldap_users(
    stack: Stack, admin: KeycloakAdmin, bridge_admin: KeycloakAdmin, today: dt.date
) -> None:
    province_admin, in_scope, branch_user = person_in(stack, "01", 10), person_in(stack, "01000", 0), None
    branch_user = next(p for p in stack.slapd.people if p.unit_code.startswith("01") and p.unit_code != "01000")
    out_of_scope = person_in(stack, "79", 3)
    ids = {p.mail: user_id(bridge_admin, p) for p in (province_admin, in_scope, branch_user, out_of_scope)}
    for person in (in_scope, branch_user, out_of_scope):
        path = stack.units.group_path(person.unit_code, today)
        bridge_admin.put(f"users/{ids[person.mail]}/groups/{group_id(bridge_admin, path)}", {})
    ensure_province_console_scope(
        admin, unit_code="01000", group_path="/units/01000", admin_user_ids=[ids[province_admin.mail]]
    )
    token = _console_token(stack, province_admin.mail, password_for(province_admin.employee_number))
    base = f"{stack.settings.keycloak.url}/admin/realms/bhxh"
    headers = {"Authorization": f"Bearer {token}"}

    for person in (in_scope, branch_user):  # the province office and one of its branches
        uid = ids[person.mail]
        assert httpx.get(f"{base}/users/{uid}", headers=headers).status_code == 200
        assert httpx.put(f"{base}/users/{uid}", headers=headers, json={"enabled": False}).status_code == 204
        assert admin.get(f"users/{uid}")["enabled"] is False
        bridge_admin.put(f"users/{uid}", {"enabled": True})

    other = ids[out_of_scope.mail]
    assert httpx.get(f"{base}/users/{other}", headers=headers).status_code == 403
    assert httpx.put(f"{base}/users/{other}", headers=headers, json={"enabled": False}).status_code == 403
    assert admin.get(f"users/{other}")["enabled"] is True
    moved = httpx.put(f"{base}/users/{other}/groups/{group_id(admin, '/units/01000')}", headers=headers)
    assert moved.status_code == 403
    hcm_group = group_id(admin, "/units/79000")
    assert httpx.put(f"{base}/users/{ids[in_scope.mail]}/groups/{hcm_group}", headers=headers).status_code == 403

    # The documented gap: a search that reaches the LDAP federation returns users outside the scope.
    # A person Keycloak has never seen: added to the directory for this check and removed after it (a realm-wide
    # listing such as the review's imports every directory entry, so none of the generated people is sure to be new).
    not_imported = new_person(person_in(stack, "79", 40), index=171)
    ldif = person_ldif(not_imported, PEOPLE_BASE)
    dn_line, rest = ldif.split("\n", 1)
    stack.slapd.modify(f"{dn_line}\nchangetype: add\n{rest}\n")
    try:
        found = httpx.get(f"{base}/users", headers=headers,
                          params={"email": not_imported.mail, "exact": "true"}).json()  # fmt: skip
        leak = [u["email"] for u in found]
        assert leak == [not_imported.mail], leak  # measured: the federated lookup is not filtered by FGAP v2
    finally:
        stack.slapd.delete([f"{not_imported.dn_rdn},{PEOPLE_BASE}"])
        for user in admin.get("users", email=not_imported.mail, exact="true") or []:
            admin.delete(f"users/{user['id']}")
    print(f"FGAP v2 federated search for an out-of-scope, not yet imported user returned: {leak}")
