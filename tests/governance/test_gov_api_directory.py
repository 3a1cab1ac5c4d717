"""The API decides on the real directory (LDAP, behind its cache), not on a snapshot: what the directory says
decides a grant's scope; when it does not answer, scoped decisions answer 503, ``/readyz`` is red and nothing
is written; when it is back, both recover. Callers use the test bed's real realm tokens."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from gov_realm import ENTRIES
from gov_world import DAY, HN, PERSON_A, PERSON_B
from pydantic import SecretStr
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from bridge.adapters.directory.ldap import LdapDirectory
from bridge.adapters.store.models import Grant, LedgerEntry
from bridge.adapters.store.session import make_engine
from bridge.domain.units import UnitTree
from bridge.errors import ConfigError
from bridge.interfaces.api.app import create_app
from bridge.services.context import directory_for
from bridge.settings import DirectorySettings, Settings
from bridge.testbed.directory_gen import person_ldif
from bridge.testbed.slapd_server import PEOPLE_BASE, SlapdServer, start_slapd
from tests.api_overrides import fix_day, serve_store

if TYPE_CHECKING:
    from conftest import Seeded
    from gov_realm import Realm

pytestmark = pytest.mark.integration
TTL_S = 1.0
GRANT_A = {"email": PERSON_A, "application": "TNHS", "role_group": "operator"}
GRANT_B = {"email": PERSON_B, "application": "TNHS", "role_group": "operator"}


@pytest.fixture(scope="module")
def official(units: UnitTree) -> Iterator[SlapdServer]:
    """A directory of its own (this module stops it), holding the world's people."""
    slapd = start_slapd(units, size=40, seed=71)
    records = []
    for person in ENTRIES:
        dn_line, rest = person_ldif(person, PEOPLE_BASE).split("\n", 1)
        records.append(f"{dn_line}\nchangetype: add\n{rest}")
    slapd.modify("\n".join(records) + "\n")
    yield slapd
    slapd.close()


@pytest.fixture()
def api(official: SlapdServer, seeded: Seeded, realm: Realm) -> Iterator[tuple[FastAPI, LdapDirectory]]:
    settings = DirectorySettings(
        url=official.url,
        bind_dn=official.reader_dn,
        bind_password=SecretStr(official.reader_password),
        lookup_cache_ttl_s=TTL_S,
        lookup_timeout_s=2.0,
    )
    directory = LdapDirectory(settings)
    template = make_engine(seeded.template_url)
    app = create_app(factory=sessionmaker(template), directory=directory, validator=realm.validator())
    fix_day(app, DAY)
    yield app, directory
    directory.close()
    template.dispose()


def _counts(factory: sessionmaker[Session]) -> tuple[int | None, int | None]:
    """Grants, and ledger rows that record a change (not a refusal)."""
    with factory() as session:
        grants = session.scalar(select(func.count()).select_from(Grant))
        changes = session.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.outcome != "refused"))
    return grants, changes


def test_no_snapshot_means_the_official_directory_and_production_refuses_one(tmp_path: Path) -> None:
    settings = Settings()
    settings.governance.directory_snapshot = None
    assert isinstance(directory_for(settings), LdapDirectory)
    snapshot = tmp_path / "directory.json"
    snapshot.write_text("[]", encoding="utf-8")
    settings.governance.directory_snapshot = snapshot
    settings.environment = "production"
    with pytest.raises(ConfigError, match="test tool"):
        directory_for(settings)


def test_the_directory_decides_the_scope_of_a_grant(
    official: SlapdServer, seeded: Seeded, realm: Realm, api: tuple[FastAPI, LdapDirectory]
) -> None:
    app, _directory = api
    with seeded.clone() as store, TestClient(app) as client:
        serve_store(app, store.factory)
        other_province = client.post("/grants", json=GRANT_B, headers=realm.headers(HN))
        own = client.post("/grants", json=GRANT_A, headers=realm.headers(HN))
        with store.engine.connect() as conn:
            refused_rule = conn.execute(
                text("SELECT rule FROM audit_ledger WHERE outcome = 'refused' ORDER BY id DESC")
            ).scalar()
        # The directory moves Bình to Hồ Chí Minh City: after the cache's TTL the same request is refused.
        person_a = next(p for p in ENTRIES if p.mail == PERSON_A)
        official.modify(
            f"dn: {person_a.dn_rdn},{PEOPLE_BASE}\nchangetype: modify\nreplace: departmentNumber\n"
            f"departmentNumber: 79001\n"
        )
        time.sleep(TTL_S + 0.2)
        moved = client.post(
            "/grants", json={**GRANT_A, "application": "TST", "role_group": "supervisor"}, headers=realm.headers(HN)
        )
        official.modify(
            f"dn: {person_a.dn_rdn},{PEOPLE_BASE}\nchangetype: modify\nreplace: departmentNumber\n"
            f"departmentNumber: {person_a.unit_code}\n"
        )
    assert other_province.status_code == 404, other_province.text  # out of scope answers like missing
    assert refused_rule == "R5-province-out-of-scope"
    assert own.status_code == 201, own.text
    assert moved.status_code == 404, moved.text


def test_directory_down_answers_503_writes_nothing_and_readyz_recovers(
    official: SlapdServer, seeded: Seeded, realm: Realm, api: tuple[FastAPI, LdapDirectory]
) -> None:
    app, _directory = api
    with seeded.clone() as store, TestClient(app) as client:
        serve_store(app, store.factory)
        headers = realm.headers(HN)
        official.stop()
        try:
            time.sleep(TTL_S + 0.2)  # nothing the cache holds may be used any more
            before = _counts(store.factory)
            refused = client.post("/grants", json=GRANT_A, headers=headers)
            listed = client.get("/persons", headers=headers)
            down = client.get("/readyz")
            after = _counts(store.factory)
        finally:
            official.start()
        up = client.get("/readyz")
        granted = client.post("/grants", json=GRANT_A, headers=headers)
    assert refused.status_code == 503, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["title"] == "directory-unavailable"
    assert listed.status_code == 503, listed.text
    assert after == before, "a refused decision wrote a grant or an accepted ledger row"
    assert down.status_code == 503 and down.json()["checks"]["directory"]["ok"] is False
    assert down.json()["checks"]["store"]["ok"] is True
    assert up.json()["checks"]["directory"]["ok"] is True
    assert granted.status_code == 201, granted.text
