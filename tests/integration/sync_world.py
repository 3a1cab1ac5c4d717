"""A private world for one sync test module: its own slapd, its own realm on the shared Keycloak, a store.

Sync tests change the directory and Keycloak; giving each module its own directory and realm keeps modules
independent of each other and of the order they run in.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from pydantic import SecretStr

from bridge.adapters.keycloak.admin import KeycloakAdmin, service_account_admin
from bridge.adapters.store import migrate
from bridge.clock import today_vn
from bridge.domain.units import UnitTree
from bridge.services.keycloak_config import apply_keycloak_config, bootstrap_admin
from bridge.services.sync.run import RunReport, run_sync
from bridge.settings import Settings
from bridge.testbed.directory_gen import Person, person_ldif
from bridge.testbed.slapd_server import PEOPLE_BASE, SlapdServer, start_slapd
from bridge.testbed.stack import Stack


@dataclasses.dataclass
class World:
    """Servers and settings of one module."""

    settings: Settings
    slapd: SlapdServer
    units: UnitTree
    day: dt.date
    admin: KeycloakAdmin
    kc: KeycloakAdmin

    @property
    def people(self) -> list[Person]:
        """The generated people (as first seeded)."""
        return self.slapd.people

    def sync(
        self,
        *,
        full: bool = False,
        dry_run: bool = False,
        units: UnitTree | None = None,
        settings: Settings | None = None,
    ) -> RunReport:
        """One run of the engine, in process, as the bridge's service account."""
        run = run_sync(
            settings=settings or self.settings,
            units=units or self.units,
            day=self.day,
            full=full,
            dry_run=dry_run,
        )
        return asyncio.run(run)

    def env(self) -> dict[str, str]:
        """``BRIDGE_*`` variables pointing a ``bridge`` process at this world."""
        s = self.settings
        return {
            "BRIDGE_KEYCLOAK__URL": s.keycloak.url,
            "BRIDGE_KEYCLOAK__REALM": s.keycloak.realm,
            "BRIDGE_KEYCLOAK__CLIENT_SECRET": s.keycloak.client_secret.get_secret_value(),
            "BRIDGE_DIRECTORY__URL": s.directory.url,
            "BRIDGE_DIRECTORY__BIND_DN": s.directory.bind_dn,
            "BRIDGE_DIRECTORY__BIND_PASSWORD": s.directory.bind_password.get_secret_value(),
            "BRIDGE_STORE__URL": s.store.url,
        }

    def add(self, person: Person) -> None:
        """Add a person to the live directory."""
        ldif = person_ldif(person, PEOPLE_BASE)
        dn_line, rest = ldif.split("\n", 1)
        self.slapd.modify(f"{dn_line}\nchangetype: add\n{rest}\n")

    def remove(self, *people: Person) -> None:
        """Delete people from the live directory."""
        self.slapd.delete(f"{p.dn_rdn},{PEOPLE_BASE}" for p in people)

    def set_unit(self, person: Person, unit_code: str) -> None:
        """Move a person to another unit in the directory."""
        self.slapd.modify(
            f"dn: {person.dn_rdn},{PEOPLE_BASE}\nchangetype: modify\nreplace: departmentNumber\n"
            f"departmentNumber: {unit_code}\n"
        )

    def users(self, mail: str) -> list[dict[str, object]]:
        """Keycloak users with this exact mail (the lookup imports on first sight)."""
        found: list[dict[str, object]] = self.admin.get("users", email=mail, exact="true")
        return found

    def user(self, mail: str) -> dict[str, object]:
        """The one Keycloak user with this mail, freshly read."""
        found = self.users(mail)
        assert len(found) == 1, f"{mail}: {len(found)} users"
        user: dict[str, object] = self.admin.get(f"users/{found[0]['id']}")
        return user

    def groups_of(self, user_id: object) -> set[str]:
        """Paths of the user's groups."""
        return {str(g["path"]) for g in self.admin.get(f"users/{user_id}/groups")}


@contextmanager
def sync_world(stack: Stack, units: UnitTree, *, name: str, size: int, seed: int) -> Iterator[World]:
    """Start a slapd with ``size`` people, create realm ``name`` pointing at it, migrate a fresh store."""
    slapd = start_slapd(units, size=size, seed=seed)
    workdir = Path(tempfile.mkdtemp(prefix=f"bhxh-{name}-"))
    settings = stack.settings.model_copy(deep=True)
    settings.keycloak.realm = name
    settings.directory.url = slapd.url
    settings.directory.bind_dn = slapd.reader_dn
    settings.directory.bind_password = SecretStr(slapd.reader_password)
    settings.store.url = f"sqlite:///{workdir / 'store.sqlite3'}"
    day = today_vn()
    try:
        apply_keycloak_config(settings, day=day)
        migrate.upgrade(url=settings.store.url)
        admin = bootstrap_admin(settings, name)
        world = World(
            settings=settings,
            slapd=slapd,
            units=units,
            day=day,
            admin=admin,
            kc=service_account_admin(settings.keycloak),
        )
        yield world
    finally:
        with suppress(Exception):
            bootstrap_admin(settings, name).delete("")
        slapd.close()


def new_person(template: Person, *, index: int, unit_code: str | None = None) -> Person:
    """A person not in the generated directory (uid/mail/employee number derived from ``index``)."""
    number = f"BH9{index:06d}"
    local, domain = template.mail.split("@")
    return dataclasses.replace(
        template,
        uid=number.lower(),
        employee_number=number,
        mail=f"{local}.new{index}@{domain}",
        unit_code=unit_code or template.unit_code,
    )
