"""The initial load by seeding (bridge.services.sync.seed) on the real servers: the session's Keycloak and slapd
(2,000 people), a fresh realm of this module created from keycloak-config/, a store of its own.

Seeding writes every person with the bridge's id and unit group in a few ``partialImport`` requests, as the
configuration credential, with the realm's LDAP federation off meanwhile; the person then logs in with the
directory password, and the bridge's next runs (incremental, full) plan nothing. A realm with accounts is
refused with nothing written. Decision 0910.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bridge.adapters.directory.ldap import DirectoryEntry, read_people
from bridge.adapters.keycloak.actual import ActualState, read_actual
from bridge.adapters.keycloak.admin import KeycloakAdmin, service_account_admin
from bridge.adapters.store import migrate
from bridge.adapters.store.models import LedgerEntry
from bridge.adapters.store.session import engine_for, session_factory, transaction
from bridge.domain.catalogue import Application, by_code
from bridge.domain.sync.seed import seeded_user_id
from bridge.domain.units import UnitTree
from bridge.errors import Forbidden, TransientError
from bridge.services.holds import add_hold
from bridge.services.keycloak_config import apply_keycloak_config, bootstrap_admin
from bridge.services.sync import seed
from bridge.services.sync.run import run_sync
from bridge.settings import Settings
from bridge.testbed.directory_gen import Person, password_for
from bridge.testbed.postgres_server import APP_ROLE, PostgresServer
from bridge.testbed.relying_party import RelyingParty
from bridge.testbed.stack import Stack
from tests.integration.test_foundation import person_in

pytestmark = pytest.mark.integration
REALM = "sync-seed"


@dataclass
class Seeded:
    settings: Settings
    admin: KeycloakAdmin
    units: UnitTree
    day: dt.date
    held: Person
    report: seed.SeedReport


@pytest.fixture(scope="module")
def seeded(stack: Stack, units: UnitTree, today: dt.date, postgres: PostgresServer) -> Iterator[Seeded]:
    """A fresh realm on the session's servers and a PostgreSQL store (as in production), seeded once (a hold in
    force on one person)."""
    settings = stack.settings.model_copy(deep=True)
    settings.keycloak.realm = REALM
    postgres.create_database("sync_seed")
    migrate.upgrade(url=postgres.owner_url("sync_seed"), app_role=APP_ROLE)
    settings.store.url = postgres.app_url("sync_seed")
    apply_keycloak_config(settings, day=today)
    admin = bootstrap_admin(settings, REALM)
    held = person_in(stack, "01", 6)
    with transaction(session_factory(settings.store.url)) as session:
        add_hold(session, email=held.mail, reason="maternity", effective_from=today, source="test")
    try:
        dry = asyncio.run(seed.seed_realm(settings=settings, units=units, day=today, dry_run=True))
        assert dry.status == "planned" and dry.people > 0
        assert admin.get("users/count") == 0, "a dry run writes nothing (the count leaves service accounts out)"
        report = asyncio.run(seed.seed_realm(settings=settings, units=units, day=today, batch_size=seed.BATCH_SIZE))
        yield Seeded(settings, admin, units.deployed_as(REALM), today, held, report)
    finally:
        with suppress(Exception):
            admin.delete("")
        engine_for(settings.store.url).dispose()
        postgres.drop_database("sync_seed")


def _actual(settings: Settings, units: UnitTree) -> ActualState:
    async def read() -> ActualState:
        kc = service_account_admin(settings.keycloak)
        try:
            return await read_actual(kc, unit_root=units.group_root, leavers=frozenset())
        finally:
            await kc.aclose()

    return asyncio.run(read())


def _directory_people(settings: Settings, units: UnitTree, day: dt.date) -> list[DirectoryEntry]:
    """The people the directory holds now in a unit of the seeded realm (``units`` deployed as it)."""
    read = read_people(settings.directory)
    assert read.complete
    known = {u.code for u in units.units}
    return [
        e
        for e in read.entries
        if e.unit_code in known
        and units.realm_of(units.successor_on(e.unit_code, day) or e.unit_code, day) == settings.keycloak.realm
    ]


def _federation_enabled(admin: KeycloakAdmin) -> bool:
    component = admin.get("components", type="org.keycloak.storage.UserStorageProvider")[0]
    return bool(component["config"].get("enabled", ["true"]) == ["true"])


def _ledger(settings: Settings) -> list[LedgerEntry]:
    with transaction(session_factory(settings.store.url)) as session:
        rows = session.scalars(select(LedgerEntry).where(LedgerEntry.action == "sync.seed")).all()
        session.expunge_all()
        return list(rows)


def test_seed_puts_every_person_in_their_unit_group_with_the_bridges_id(seeded: Seeded, stack: Stack) -> None:
    report = seeded.report
    # everyone the directory holds now, the people other test modules added to it included (not only the
    # generated ones): the seed reads the directory, not the test bed's list
    people = _directory_people(seeded.settings, seeded.units, seeded.day)
    assert report.status == "applied", report.error
    assert report.people == len(people) and report.batches == -(-len(people) // seed.BATCH_SIZE)
    assert report.disabled == 1
    actual = _actual(seeded.settings, seeded.units)
    expected: Counter[str] = Counter()
    for person in people:
        path = seeded.units.group_path(seeded.units.successor_on(person.unit_code, seeded.day) or person.unit_code,
                                       seeded.day)  # fmt: skip
        expected[path] += 1
        user = actual.users[person.mail]
        assert user.id == seeded_user_id(REALM, person.uid)
        assert user.unit_groups == {path}, person.mail
        assert user.enabled is (person.mail != seeded.held.mail)
    assert Counter(p for u in actual.users.values() for p in u.unit_groups) == expected
    assert seeded.admin.get("users/count") == len(people)
    assert _federation_enabled(seeded.admin), "the federation is enabled again after the seed"
    rows = _ledger(seeded.settings)
    assert [(r.outcome, r.detail["people"], r.detail["status"]) for r in rows] == [("allowed", len(people), "applied")]
    with transaction(session_factory(seeded.settings.store.url)) as session:
        ensured = session.scalars(select(LedgerEntry).where(LedgerEntry.action == "sync.ensure")).all()
        # one row per person, as a full run's initial load writes them: the quarter's "accounts added" (Công văn 907)
        assert sorted(r.target for r in ensured) == sorted(f"user:{p.mail}" for p in people)
        assert {(r.detail["change"], r.detail["seed"]) for r in ensured} == {("joiner", True)}


def test_seeded_user_is_what_keycloaks_import_would_write(seeded: Seeded, stack: Stack) -> None:
    person = person_in(stack, "01", 9)
    user = seeded.admin.get(f"users/{seeded_user_id(REALM, person.uid)}")
    component = seeded.admin.get("components", type="org.keycloak.storage.UserStorageProvider")[0]
    assert user["federationLink"] == component["id"]
    assert user["username"] == user["email"] == person.mail
    assert (user["firstName"], user["lastName"]) == (person.given_name, person.family_name)
    assert user["emailVerified"] is True
    attributes = user["attributes"]
    assert attributes["LDAP_ID"] == [person.uid]
    assert attributes["LDAP_ENTRY_DN"][0].startswith(f"uid={person.uid},")
    assert attributes["unit_code"] == [person.unit_code]
    assert attributes["employee_number"] == [person.employee_number]
    assert attributes["display_name"] == [person.full_name]


def test_seeded_person_logs_in_with_the_directory_password(
    seeded: Seeded, stack: Stack, apps: tuple[Application, ...]
) -> None:
    tst = by_code(apps, "TST")
    client = seeded.admin.get("clients", clientId=tst.client)[0]
    party = RelyingParty(
        issuer=f"{seeded.settings.keycloak.url}/realms/{REALM}",
        client_id=tst.client,
        client_secret=seeded.admin.get(f"clients/{client['id']}/client-secret")["value"],
        redirect_uri=tst.redirect_uris[0],
    )
    person = person_in(stack, "01", 7)
    result = party.login(person.mail, password_for(person.employee_number))
    assert result.id_claims["sub"] == seeded_user_id(REALM, person.uid)
    assert result.id_claims["unit_code"] == person.unit_code
    with pytest.raises(Forbidden):
        party.login(person.mail, "not-the-directory-password")
    held = seeded.held
    with pytest.raises(Forbidden):  # under a hold (nghỉ thai sản): seeded disabled
        party.login(held.mail, password_for(held.employee_number))


def test_next_incremental_then_full_run_plan_nothing(seeded: Seeded) -> None:
    incremental = asyncio.run(run_sync(settings=seeded.settings, units=seeded.units, day=seeded.day))
    assert incremental.mode == "incremental" and incremental.status == "applied", incremental.error
    assert incremental.ops == [] and incremental.writes == 0
    full = asyncio.run(run_sync(settings=seeded.settings, units=seeded.units, day=seeded.day, full=True))
    assert full.mode == "full" and full.status == "applied", full.error
    assert full.ops == [] and full.writes == 0
    assert full.record is not None and full.record["written"] == 0, full.record


def test_seeding_a_realm_with_accounts_is_refused_and_writes_nothing(seeded: Seeded, stack: Stack) -> None:
    before = seeded.admin.get("users/count")
    with pytest.raises(seed.RealmNotEmpty, match="already has accounts"):
        asyncio.run(seed.seed_realm(settings=seeded.settings, units=seeded.units, day=seeded.day))
    assert seeded.admin.get("users/count") == before
    assert _federation_enabled(seeded.admin)
    rows = _ledger(seeded.settings)
    assert [(r.outcome, r.detail["status"]) for r in rows] == [("allowed", "applied"), ("refused", "refused")]
    assert "đã có" in rows[-1].detail["error"] and "already has accounts" in rows[-1].detail["error"]
    # the federation works again: a person Keycloak has not seen through it yet is found in the directory
    person = person_in(stack, "01", 8)
    found = seeded.admin.get("users", email=person.mail, exact="true")
    assert [u["id"] for u in found] == [seeded_user_id(REALM, person.uid)]


def test_cli_dry_run_on_a_realm_with_accounts_exits_with_the_reason(seeded: Seeded, stack: Stack) -> None:
    env = {**os.environ, **stack.env(), "BRIDGE_STORE__URL": seeded.settings.store.url,
           "BRIDGE_KEYCLOAK__REALM": REALM}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "bridge", "keycloak", "seed", "--dry-run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    out = " ".join(done.stdout.split())
    assert "đã có" in out and "already has accounts" in out
    assert stack.settings.keycloak.admin_password.get_secret_value() not in done.stdout + done.stderr


class FailingImport(KeycloakAdmin):
    """The real admin REST, except that the ``partialImport`` after the first ``allowed`` ones fails as a lost
    connection would (the servers are real; only the bridge's side of one answer is replaced)."""

    def __init__(self, *, allowed: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.allowed = allowed

    async def apost_slow(self, path: str, body: Any, *, timeout_s: float, **params: Any) -> Any:
        if path == "partialImport":
            if self.allowed <= 0:
                raise TransientError("POST partialImport: connection reset (test)")
            self.allowed -= 1
        return await super().apost_slow(path, body, timeout_s=timeout_s, **params)


def test_a_seed_that_fails_midway_enables_the_federation_again_and_says_so(
    stack: Stack, units: UnitTree, today: dt.date
) -> None:
    settings = stack.settings.model_copy(deep=True)
    settings.keycloak.realm = f"{REALM}-fail"
    settings.store.url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='bhxh-seed-fail-')) / 'store.sqlite3'}"
    migrate.upgrade(url=settings.store.url)
    apply_keycloak_config(settings, day=today)
    admin = bootstrap_admin(settings, settings.keycloak.realm)
    kc = settings.keycloak
    failing = FailingImport(allowed=1, server_url=kc.url, realm=kc.realm, username=kc.admin_username,
                            password=kc.admin_password.get_secret_value(), auth_realm="master")  # fmt: skip
    try:
        with pytest.raises(TransientError, match="connection reset"):
            asyncio.run(seed.seed_realm(settings=settings, units=units, day=today, admin=failing, concurrency=1))
        assert _federation_enabled(admin)
        assert admin.get("users/count") == seed.BATCH_SIZE  # the one batch that went through, whole
        rows = _ledger(settings)
        assert [(r.outcome, r.detail["status"]) for r in rows] == [("refused", "failed")]
        assert "connection reset" in rows[0].detail["error"]
        with pytest.raises(seed.RealmNotEmpty):  # a second seed would duplicate nothing: refused
            asyncio.run(seed.seed_realm(settings=settings, units=units, day=today))
        # a full run completes the half-seeded realm: the seeded users keep their ids, the others are joiners
        report = asyncio.run(run_sync(settings=settings, units=units, day=today, full=True))
        assert report.status == "applied" and not report.failed, (report.error, report.failed[:3])
        people = len(_directory_people(settings, units.deployed_as(settings.keycloak.realm), today))
        assert report.applied == people - seed.BATCH_SIZE
        assert admin.get("users/count") == people
        again = asyncio.run(run_sync(settings=settings, units=units, day=today, full=True, dry_run=True))
        assert again.ops == []
    finally:
        with suppress(Exception):
            admin.delete("")
