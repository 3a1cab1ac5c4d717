"""Units mapped to realms on the real servers (issue 15 part 1, docs/decisions/0702).

A private world: its own slapd and two realms on the shared Keycloak, ``r15`` (the default) and ``r15-doitac``
(service providers), from a copy of keycloak-config/ whose realm names are this module's. It shows: keycloak
apply converges both realms with their own policy; the sync provisions a provider's person into the provider
realm, where they log in (authorization code + PKCE, with the second factor every provider must set up), and
not into the default realm, where the login is refused; a person moved in the directory into a provider unit
is a planned, valve-counted, ledgered realm move (disabled in the old realm, imported in the new one).
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from bridge.adapters.keycloak.admin import KeycloakAdmin, service_account_admin
from bridge.adapters.store import migrate
from bridge.adapters.store.models import LedgerEntry
from bridge.adapters.store.session import session_factory, transaction
from bridge.clock import today_vn
from bridge.domain.catalogue import load_applications
from bridge.domain.sync.planner import OpKind, Reason
from bridge.domain.units import UnitTree, load_units
from bridge.errors import Forbidden
from bridge.services.keycloak_config import apply_keycloak_config, bootstrap_admin
from bridge.services.sync.run import RunReport, run_sync, sync_realms
from bridge.settings import PROJECT_ROOT, Settings
from bridge.testbed.directory_gen import Person, password_for
from bridge.testbed.relying_party import RelyingParty
from bridge.testbed.slapd_server import PEOPLE_BASE, SlapdServer, start_slapd
from bridge.testbed.stack import Stack
from tests.integration.sync_world import World, new_person

pytestmark = pytest.mark.integration
MAIN, PROVIDERS = "r15", "r15-doitac"


@dataclasses.dataclass
class RealmWorld(World):
    """A sync world with two realms; ``admins`` reads each realm as the bootstrap administrator."""

    admins: dict[str, KeycloakAdmin] = dataclasses.field(default_factory=dict)

    def run(self, realm: str, *, dry_run: bool = False, settings: Settings | None = None) -> RunReport:
        return asyncio.run(run_sync(settings=settings or self.settings, units=self.units, day=self.day, full=True,
                                    dry_run=dry_run, realm=realm))  # fmt: skip

    def found(self, realm: str, mail: str) -> list[dict[str, object]]:
        users: list[dict[str, object]] = self.admins[realm].get("users", email=mail, exact="true")
        return users

    def rp(self, realm: str, client_id: str = "tst") -> RelyingParty:
        admin = self.admins[realm]
        client = admin.get("clients", clientId=client_id)[0]
        secret = admin.get(f"clients/{client['id']}/client-secret")["value"]
        app = next(a for a in load_applications(self.settings.keycloak.config_dir / "applications.yaml")
                   if a.client == client_id)  # fmt: skip
        issuer = f"{self.settings.keycloak.url}/realms/{realm}"
        return RelyingParty(issuer=issuer, client_id=client_id, client_secret=secret, redirect_uri=app.redirect_uris[0])


def module_config(target: Path) -> Path:
    """keycloak-config/ with this module's realm names (the default and the providers')."""
    target.mkdir()
    for item in (PROJECT_ROOT / "keycloak-config").iterdir():
        if item.is_file():
            shutil.copy(item, target / item.name)
    units = (target / "units.yaml").read_text(encoding="utf-8")
    units = units.replace("\nrealm: bhxh\n", f"\nrealm: {MAIN}\n").replace("realm: bhxh-doitac", f"realm: {PROVIDERS}")
    (target / "units.yaml").write_text(units, encoding="utf-8")
    realm_yaml = (target / "realm.yaml").read_text(encoding="utf-8").replace("  bhxh-doitac:\n", f"  {PROVIDERS}:\n")
    (target / "realm.yaml").write_text(realm_yaml, encoding="utf-8")
    return target


def provider_person(template: Person, *, index: int, unit_code: str) -> Person:
    """A service provider's person (mail in the provider's own domain) not in the generated directory."""
    person = new_person(template, index=index, unit_code=unit_code)
    return dataclasses.replace(person, mail=f"doitac{index}@hethongtt.com.vn")


@pytest.fixture(scope="module")
def world(stack: Stack) -> Iterator[RealmWorld]:
    workdir = Path(tempfile.mkdtemp(prefix="bhxh-r15-"))
    config = module_config(workdir / "keycloak-config")
    units: UnitTree = load_units(config / "units.yaml")
    slapd: SlapdServer = start_slapd(units, size=120, seed=15)
    settings = stack.settings.model_copy(deep=True)
    settings.keycloak.realm = MAIN
    settings.keycloak.config_dir = config
    settings.directory.url = slapd.url
    settings.directory.bind_dn = slapd.reader_dn
    settings.directory.bind_password = SecretStr(slapd.reader_password)
    settings.store.url = f"sqlite:///{workdir / 'store.sqlite3'}"
    try:
        migrate.upgrade(url=settings.store.url)
        result = apply_keycloak_config(settings, day=today_vn())
        assert [result.realm, *(o.realm for o in result.others)] == [MAIN, PROVIDERS]
        admins = {realm: bootstrap_admin(settings, realm) for realm in (MAIN, PROVIDERS)}
        yield RealmWorld(settings=settings, slapd=slapd, units=units, day=today_vn(), admin=admins[MAIN],
                         kc=service_account_admin(settings.keycloak), admins=admins)  # fmt: skip
    finally:
        for realm in (MAIN, PROVIDERS):
            with suppress(Exception):
                bootstrap_admin(settings, realm).delete("")
        slapd.close()


def test_keycloak_apply_converges_every_realm_with_its_own_policy(world: RealmWorld) -> None:
    again = apply_keycloak_config(world.settings, day=world.day, dry_run=True)
    assert again.changes == [] and [o.changes for o in again.others] == [[]]  # a second apply: nothing to do
    providers = world.admins[PROVIDERS]
    realm = providers.get("")
    assert realm["ssoSessionMaxLifespan"] <= 8 * 3600 and realm["browserFlow"] == "bhxh-browser"
    clients = {c["clientId"] for c in providers.get("clients", max=-1)}
    assert {"tst", "gdbhyt"} <= clients and not clients & {"tnhs", "dvc", "kt", "bhxh-bridge-ui", "scim-hr-01000"}
    assert {"tst", "tnhs", "bhxh-bridge-ui"} <= {c["clientId"] for c in world.admins[MAIN].get("clients", max=-1)}
    # the OTP role sits on the unit root group; every provider's unit group lies under it
    root = providers.get("group-by-path/units")
    assert "bhxh-doitac-otp" in {r["name"] for r in providers.get(f"groups/{root['id']}/role-mappings/realm")}
    filters = {}
    for realm_name, admin in world.admins.items():
        ldap = admin.get("components", type="org.keycloak.storage.UserStorageProvider")[0]
        filters[realm_name] = ldap["config"]["customUserSearchFilter"][0]
    assert filters[PROVIDERS].startswith("(|(departmentNumber=DV000)")
    assert filters[MAIN] == f"(!{filters[PROVIDERS]})"


def test_provider_person_is_provisioned_into_the_provider_realm_and_logs_in_there_only(world: RealmWorld) -> None:
    person = provider_person(world.people[0], index=151, unit_code="DV001")
    world.add(person)
    assert sync_realms(world.settings, world.units) == (MAIN, PROVIDERS)
    main = world.run(MAIN)
    assert main.status == "applied", (main.error, main.failed[:3])
    assert not [op for op in main.ops if op.mail == person.mail]  # not this realm's
    providers = world.run(PROVIDERS)
    assert providers.status == "applied", (providers.error, providers.failed[:3])
    joined = [op for op in providers.ops if op.mail == person.mail]
    assert [(op.kind, op.reason) for op in joined] == [(OpKind.ENSURE, Reason.JOINER)]
    [user] = world.found(PROVIDERS, person.mail)
    assert user["enabled"] is True
    groups = {g["path"] for g in world.admins[PROVIDERS].get(f"users/{user['id']}/groups")}
    assert groups == {"/units/DV000/DV001"}
    assert world.found(MAIN, person.mail) == []  # the default realm's federation does not find them

    login = world.rp(PROVIDERS).login(person.mail, password_for(person.employee_number), set_up_totp=True)
    assert login.id_claims["email"] == person.mail
    assert login.id_claims["iss"].endswith(f"/realms/{PROVIDERS}")
    otp = world.admins[PROVIDERS].get(f"users/{user['id']}/credentials")
    assert [c["type"] for c in otp if c["type"] == "otp"] == ["otp"]  # the second factor was required and set up
    with pytest.raises(Forbidden):
        world.rp(MAIN).login(person.mail, password_for(person.employee_number))
    print(f"\nprovider {person.mail}: {PROVIDERS} login OK (code + PKCE, TOTP set up), iss={login.id_claims['iss']};"
          f" {MAIN}: refused, users found there: {len(world.found(MAIN, person.mail))}")  # fmt: skip


def test_a_move_into_a_provider_unit_is_a_planned_valve_counted_ledgered_realm_move(world: RealmWorld) -> None:
    template = next(p for p in world.people if p.unit_code.startswith("01"))
    mover = new_person(template, index=152)
    world.add(mover)
    assert world.run(MAIN).status == "applied"
    [before] = world.found(MAIN, mover.mail)
    assert before["enabled"] is True

    world.slapd.modify(f"dn: {mover.dn_rdn},{PEOPLE_BASE}\nchangetype: modify\nreplace: departmentNumber\n"
                       "departmentNumber: DV002\n")  # fmt: skip
    plan = world.run(MAIN, dry_run=True)  # shown as a plan first
    moves = [op for op in plan.ops if op.mail == mover.mail]
    assert [(op.kind, op.reason) for op in moves] == [(OpKind.DISABLE, Reason.REALM_MOVE)]
    strict = world.settings.model_copy(deep=True)
    strict.sync.max_unit_reorg_moves = 0
    halted = world.run(MAIN, settings=strict)
    assert halted.status == "halted" and any("moves to another realm" in r for r in halted.verdict.reasons)
    assert halted.results == [] and halted.writes == 0  # held: nothing written
    # Keycloak itself already shows the old realm's account disabled: its federation no longer finds the entry
    assert world.found(MAIN, mover.mail)[0]["enabled"] is False

    moved = world.run(MAIN)
    assert moved.status == "applied", (moved.error, moved.failed[:3])
    # and the bridge disables it for good (a report keeps failed results only: the ledger below shows it applied)
    assert [(op.kind, op.reason) for op in moved.ops if op.mail == mover.mail] == [(OpKind.DISABLE, Reason.REALM_MOVE)]
    assert moved.failed == [] and moved.applied_by_kind["disable"] >= 1
    assert world.run(MAIN, dry_run=True).ops == []  # converged
    arrived = world.run(PROVIDERS)
    assert [(op.kind, op.reason) for op in arrived.ops if op.mail == mover.mail] == [(OpKind.ENSURE, Reason.JOINER)]
    [there] = world.found(PROVIDERS, mover.mail)
    assert there["enabled"] is True
    with transaction(session_factory(world.settings.store.url)) as session:
        rows = session.scalars(select(LedgerEntry).where(LedgerEntry.target == f"user:{mover.mail}")
                               .order_by(LedgerEntry.id)).all()  # fmt: skip
        ledgered = [(r.action, r.rule, r.detail.get("run")) for r in rows]
    assert ("sync.disable", "sync-realm_move", moved.run_id) in ledgered
    assert ("sync.ensure", "sync-joiner", arrived.run_id) in ledgered
    print(f"\nrealm move {mover.mail}: plan {plan.plan_hash[:12]} -> halted at limit 0 -> disabled in {MAIN} (run "
          f"{moved.run_id}), imported in {PROVIDERS} (run {arrived.run_id}); ledger {ledgered}")  # fmt: skip
