"""``bridge init`` on a real PostgreSQL, from an empty database, twice: the application role is created with the
least privileges of decision 0101, the store reaches head, the first IT Center administrator is appointed once.

The database is prepared the way docker-compose.yml's PostgreSQL init script prepares it: an owner role with
CREATEROLE owning an empty database that PUBLIC may not connect to. Keycloak's steps are the tests of
``keycloak apply`` and ``console permissions`` (tests/integration).
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from psycopg import sql
from pydantic import SecretStr
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import sessionmaker
from typer.testing import CliRunner

from bridge.adapters.directory.lookup import DirectoryPerson, SnapshotDirectory
from bridge.adapters.store import ledger
from bridge.adapters.store.migrate import current_revision, head_revision
from bridge.adapters.store.models import Administrator, LedgerEntry
from bridge.adapters.store.roles import scram_verifier
from bridge.adapters.store.session import make_engine, transaction
from bridge.clock import today_vn
from bridge.domain.role_levels import load_catalogue
from bridge.domain.units import load_units
from bridge.errors import InvalidInput
from bridge.interfaces.cli.main import app
from bridge.services.context import GovContext
from bridge.services.init import ensure_first_admin, init_steps, prepare_store
from bridge.settings import (
    PROJECT_ROOT,
    GovernanceSettings,
    InitSettings,
    Settings,
    StoreSettings,
    get_settings,
)
from bridge.testbed.postgres_server import PostgresServer

CONFIG = PROJECT_ROOT / "keycloak-config"
FIRST_ADMIN = "tam.nv@vss.gov.vn"
DIRECTORY = SnapshotDirectory(
    [
        DirectoryPerson(FIRST_ADMIN, "Nguyễn Văn Tâm", "00012", title="Giám đốc Trung tâm"),
        DirectoryPerson("nghi.viec@vss.gov.vn", "Trần Văn Nghỉ", "00012", active=False),
    ]
)
_numbers = itertools.count(1)


@dataclass(frozen=True)
class EmptyStore:
    """An empty database, its owner and the name and password the application role will have."""

    server: PostgresServer
    database: str
    owner: str
    owner_password: str
    app_role: str
    app_password: str

    def url(self, user: str, password: str) -> str:
        return f"postgresql+psycopg://{user}:{password}@127.0.0.1:{self.server.port}/{self.database}"

    @property
    def owner_url(self) -> str:
        return self.url(self.owner, self.owner_password)

    @property
    def app_url(self) -> str:
        return self.url(self.app_role, self.app_password)

    def settings(self, **init: object) -> Settings:
        return Settings(
            store=StoreSettings(url=self.app_url),
            governance=GovernanceSettings(db_app_role=self.app_role),
            init=InitSettings(
                owner_url=SecretStr(self.owner_url),
                app_role_password=SecretStr(self.app_password),
                **init,  # type: ignore[arg-type]
            ),
        )


@pytest.fixture
def empty(postgres: PostgresServer) -> Iterator[EmptyStore]:
    n = next(_numbers)
    store = EmptyStore(
        server=postgres,
        database=f"init{n}",
        owner=f"init_owner{n}",
        owner_password=secrets.token_urlsafe(18),
        app_role=f"init_app{n}",
        app_password=secrets.token_urlsafe(18),
    )
    with postgres.superuser_connection() as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN CREATEROLE PASSWORD {}").format(
                sql.Identifier(store.owner), sql.Literal(store.owner_password)
            )
        )
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(store.database), sql.Identifier(store.owner))
        )
        conn.execute(sql.SQL("REVOKE CONNECT ON DATABASE {} FROM PUBLIC").format(sql.Identifier(store.database)))
    yield store
    postgres.drop_database(store.database)


def _context() -> GovContext:
    return GovContext(
        units=load_units(CONFIG / "units.yaml"),
        catalogue=load_catalogue(CONFIG / "applications.yaml"),
        directory=DIRECTORY,
        on_date=today_vn(),
    )


def _role(server: PostgresServer, name: str) -> tuple[bool, bool, bool, bool, str] | None:
    with server.superuser_connection() as conn:
        row = conn.execute(
            "SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolpassword FROM pg_authid WHERE rolname = %s",
            (name,),
        ).fetchone()
    return None if row is None else (bool(row[0]), bool(row[1]), bool(row[2]), bool(row[3]), str(row[4]))


def test_the_database_part_of_init_twice_from_empty(empty: EmptyStore) -> None:
    settings = empty.settings()
    assert _role(empty.server, empty.app_role) is None
    assert current_revision(url=empty.owner_url) is None

    first = prepare_store(settings)
    assert f"role {empty.app_role} created" in first
    assert "store migrated empty →" in first
    assert current_revision(url=empty.owner_url) == head_revision()
    role = _role(empty.server, empty.app_role)
    assert role is not None
    login, superuser, createrole, createdb, stored = role
    assert (login, superuser, createrole, createdb) == (True, False, False, False)
    assert stored.startswith("SCRAM-SHA-256$4096:"), "a SCRAM verifier, never the password"

    second = prepare_store(settings)
    assert f"role {empty.app_role} exists" in second
    assert f"store already at {head_revision()}" in second
    assert "least privilege on" in second

    # The application role logs in with its password, writes the ledger, and cannot rewrite it.
    engine = make_engine(empty.app_url)
    try:
        with transaction(sessionmaker(engine)) as session:
            ledger.append(session, actor="system:test", action="t", target="x", outcome="allowed", rule="r")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM audit_ledger")).scalar_one() == 1
        for statement in ("UPDATE audit_ledger SET actor = 'b'", "DELETE FROM audit_ledger", "TRUNCATE audit_ledger"):
            with pytest.raises(DBAPIError, match="permission denied"), engine.begin() as conn:
                conn.execute(text(statement))
        for statement in ("CREATE TABLE intruder (id int)", "DROP TABLE grants", "DELETE FROM alembic_version"):
            with pytest.raises(DBAPIError, match=r"permission denied|must be owner"), engine.begin() as conn:
                conn.execute(text(statement))
        with engine.begin() as conn:  # ordinary tables: full DML
            conn.execute(text("DELETE FROM leases"))
    finally:
        engine.dispose()
    # The password went to the server as a verifier only: not in its log.
    assert empty.app_password not in (empty.server.root / "server.log").read_text(errors="replace")


def test_init_refuses_an_application_role_with_more_than_login(empty: EmptyStore) -> None:
    with empty.server.superuser_connection() as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEDB").format(sql.Identifier(empty.app_role)))
    with pytest.raises(InvalidInput, match="holds CREATEDB"):
        prepare_store(empty.settings())
    assert current_revision(url=empty.owner_url) is None, "nothing migrated"


def test_init_refuses_settings_that_would_defeat_the_two_roles(empty: EmptyStore) -> None:
    settings = empty.settings()
    no_owner = settings.model_copy(update={"init": InitSettings()})
    with pytest.raises(InvalidInput, match="BRIDGE_INIT__OWNER_URL"):
        prepare_store(no_owner)
    owner_as_app = settings.model_copy(
        update={
            "store": StoreSettings(url=empty.owner_url),
            "governance": GovernanceSettings(db_app_role=empty.owner),
        }
    )
    with pytest.raises(InvalidInput, match="is the owner role"):
        prepare_store(owner_as_app)
    other_user = settings.model_copy(update={"governance": GovernanceSettings(db_app_role="someone_else")})
    with pytest.raises(InvalidInput, match="not as the application role someone_else"):
        prepare_store(other_user)
    assert current_revision(url=empty.owner_url) is None


def test_first_admin_is_appointed_once_and_must_be_in_the_directory(empty: EmptyStore) -> None:
    prepare_store(empty.settings())
    with pytest.raises(InvalidInput, match="BRIDGE_INIT__FIRST_ADMIN_EMAIL"):
        ensure_first_admin(empty.settings(), _context)
    with pytest.raises(InvalidInput, match="not an active person of the official directory"):
        ensure_first_admin(empty.settings(first_admin_email="nghi.viec@vss.gov.vn"), _context)
    with pytest.raises(InvalidInput, match="not an active person"):
        ensure_first_admin(empty.settings(first_admin_email="nobody@vss.gov.vn"), _context)

    settings = empty.settings(first_admin_email=FIRST_ADMIN.upper())
    assert f"{FIRST_ADMIN} appointed IT Center administrator of unit 00012" in ensure_first_admin(settings, _context)
    calls: list[int] = []

    def counted() -> GovContext:
        calls.append(1)
        return _context()

    assert "skipped" in ensure_first_admin(settings, counted)
    assert "skipped" in ensure_first_admin(empty.settings(first_admin_email="other@vss.gov.vn"), counted)
    assert not calls, "an existing administrator needs no directory"

    engine = make_engine(empty.app_url)
    try:
        with sessionmaker(engine)() as session:
            admins = session.scalars(select(Administrator)).all()
            assert [(a.email, a.role, a.unit_code, a.appointed_by) for a in admins] == [
                (FIRST_ADMIN, "it_center_admin", "00012", "system:bootstrap")
            ]
            appointed = select(func.count()).select_from(LedgerEntry).where(LedgerEntry.action == "admin.appoint")
            assert session.scalar(appointed) == 1
            assert ledger.verify(session).broken is None
    finally:
        engine.dispose()


def test_steps_keep_their_order_and_refuse_unknown_names() -> None:
    settings = Settings()
    names = [s.name for s in init_steps(settings, day=today_vn(), context=_context)]
    assert names == ["store", "keycloak", "console", "admin", "second-factor"]
    only = init_steps(settings, day=today_vn(), context=_context, only=["admin", "store"])
    assert [s.name for s in only] == ["store", "admin"]
    with pytest.raises(InvalidInput, match="unknown step"):
        init_steps(settings, day=today_vn(), context=_context, only=["db"])


def test_scram_verifier_is_postgresql_s() -> None:
    # RFC 7677's example password and salt, 4096 iterations: the verifier PostgreSQL would store.
    import base64

    salt = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
    verifier = scram_verifier("pencil", salt=salt)
    assert verifier == (
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
    )
    with pytest.raises(InvalidInput, match="ASCII"):
        scram_verifier("mật khẩu")


def test_bridge_init_command_prints_each_step_and_no_secret(
    empty: EmptyStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    snapshot = tmp_path / "directory.json"
    DIRECTORY.dump(snapshot)
    env = {
        "BRIDGE_STORE__URL": empty.app_url,
        "BRIDGE_GOVERNANCE__DB_APP_ROLE": empty.app_role,
        "BRIDGE_GOVERNANCE__DIRECTORY_SNAPSHOT": str(snapshot),
        "BRIDGE_INIT__OWNER_URL": empty.owner_url,
        "BRIDGE_INIT__APP_ROLE_PASSWORD": empty.app_password,
        "BRIDGE_INIT__FIRST_ADMIN_EMAIL": FIRST_ADMIN,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        outputs = []
        for _ in range(2):
            result = runner.invoke(app, ["init", "--only", "store", "--only", "admin"])
            assert result.exit_code == 0, result.output
            outputs.append(result.output)
    finally:
        get_settings.cache_clear()
    first, second = outputs
    assert "[1/2] store" in first and "[2/2] admin" in first and "bridge init: done." in first
    assert "created" in first and f"{FIRST_ADMIN} appointed" in first
    assert "exists" in second and "already at" in second and "skipped" in second
    for secret in (empty.app_password, empty.owner_password):
        assert secret not in first + second
