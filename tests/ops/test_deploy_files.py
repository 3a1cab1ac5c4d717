"""The deployment's scripts run on this machine, as the containers would run them (no Docker engine here).

- deploy/postgres-init: run against the test bed's PostgreSQL as its superuser, then ``bridge init --only store``
  with bridge-init's environment from docker-compose.yml (host names replaced; role and database names made
  unique, the cluster being shared by the session): the application role is created, and connects.
- deploy/openldap/entrypoint.sh: Debian's slapd on loopback, seeded from scripts/directory_ldif.py; the bridge's
  directory read, bound as the read-only service DN, sees every generated person; a restart keeps the data.
"""

from __future__ import annotations

import itertools
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from bridge.adapters.directory.ldap import read_people
from bridge.adapters.store.migrate import current_revision, head_revision
from bridge.adapters.store.session import make_engine
from bridge.interfaces.cli.main import app
from bridge.settings import PROJECT_ROOT, DirectorySettings, get_settings
from bridge.testbed.ports import free_port
from bridge.testbed.postgres_server import PostgresServer
from tests.compose_file import SERVICES, filled_env, resolved_env

POSTGRES_INIT = PROJECT_ROOT / "deploy" / "postgres-init" / "10-roles-and-databases.sh"
OPENLDAP = PROJECT_ROOT / "deploy" / "openldap" / "entrypoint.sh"
_numbers = itertools.count(1)


def test_postgres_init_script_then_bridge_init_store_with_the_compose_environment(
    postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    n = next(_numbers)
    names = {"KC_DB_NAME": f"kc{n}", "KC_DB_USER": f"kc{n}", "STORE_DB_NAME": f"store{n}", "STORE_OWNER": f"own{n}"}
    env = filled_env(
        {k: secrets.token_hex(12) for k in ("KC_DB_PASSWORD", "STORE_OWNER_PASSWORD", "STORE_APP_PASSWORD")}
    )
    script_env = {
        **os.environ,
        **resolved_env("postgres", env),
        **names,
        "PGHOST": str(postgres.socket_dir),
        "PGPORT": str(postgres.port),
    }
    assert script_env["STORE_OWNER_PASSWORD"] == env["STORE_OWNER_PASSWORD"]
    run = subprocess.run(["sh", str(POSTGRES_INIT)], env=script_env, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    assert env["STORE_OWNER_PASSWORD"] not in run.stdout + run.stderr

    bridge_env = resolved_env("bridge-init", env, {"postgres:5432": f"127.0.0.1:{postgres.port}"})
    app_role = f"app{n}"
    for key in ("BRIDGE_INIT__OWNER_URL", "BRIDGE_STORE__URL"):
        url = make_url(bridge_env[key])
        user = names["STORE_OWNER"] if key == "BRIDGE_INIT__OWNER_URL" else app_role
        bridge_env[key] = url.set(username=user, database=names["STORE_DB_NAME"]).render_as_string(hide_password=False)
    bridge_env["BRIDGE_GOVERNANCE__DB_APP_ROLE"] = app_role
    for key in [k for k in os.environ if k.startswith("BRIDGE_")]:
        monkeypatch.delenv(key)
    for key, value in bridge_env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    try:
        assert SERVICES["bridge-init"]["command"] == ["bridge", "init"]
        result = CliRunner().invoke(app, ["init", "--only", "store"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert f"role {app_role} created" in result.output
    assert env["STORE_APP_PASSWORD"] not in result.output and env["STORE_OWNER_PASSWORD"] not in result.output
    assert current_revision(url=bridge_env["BRIDGE_INIT__OWNER_URL"]) == head_revision()

    engine = make_engine(bridge_env["BRIDGE_STORE__URL"])
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT current_user")).scalar_one() == app_role
            assert conn.execute(text("SELECT count(*) FROM audit_ledger")).scalar_one() == 0
    finally:
        engine.dispose()
    with postgres.superuser_connection() as conn:
        public = conn.execute(
            "SELECT has_database_privilege('public', %s, 'CONNECT'), has_database_privilege('public', %s, 'CONNECT')",
            (names["KC_DB_NAME"], names["STORE_DB_NAME"]),
        ).fetchone()
        assert public == (False, False), "PUBLIC connects to neither database"
        owner = conn.execute("SELECT rolcreaterole, rolsuper FROM pg_roles WHERE rolname = %s", (names["STORE_OWNER"],))
        assert owner.fetchone() == (True, False)
    postgres.drop_database(names["STORE_DB_NAME"])
    postgres.drop_database(names["KC_DB_NAME"])


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture
def ldap_root() -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("the stand-in's entrypoint runs as root, as in its container (slapd drops to openldap)")
    root = Path(tempfile.mkdtemp(prefix="bridge-openldap-"))
    root.chmod(0o755)  # slapd, once it is the openldap user, must reach its data below
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_directory_stand_in_loads_its_seed_once_and_serves_the_reader(ldap_root: Path) -> None:
    seed = ldap_root / "seed"
    seed.mkdir()
    ldif = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "scripts" / "directory_ldif.py"), "--size", "60"],
        capture_output=True,
        check=True,
    ).stdout
    (seed / "directory.ldif").write_bytes(ldif)
    env = filled_env({"DIRECTORY_BIND_PASSWORD": secrets.token_hex(12), "LDAP_ROOT_PASSWORD": secrets.token_hex(12)})
    port = free_port()
    stand_in = {
        **os.environ,
        **resolved_env("openldap", env),
        "LDAP_DATA_DIR": str(ldap_root / "data"),
        "LDAP_RUN_DIR": str(ldap_root / "run"),
        "LDAP_SEED_DIR": str(seed),
        "LDAP_URLS": f"ldap://127.0.0.1:{port}/",
    }
    settings = DirectorySettings(
        url=f"ldap://127.0.0.1:{port}",
        bind_dn=resolved_env("bridge-api", env)["BRIDGE_DIRECTORY__BIND_DN"],
        bind_password=SecretStr(env["DIRECTORY_BIND_PASSWORD"]),
        people_base=resolved_env("bridge-api", env)["BRIDGE_DIRECTORY__PEOPLE_BASE"],
    )
    logs = []
    for _start in range(2):
        log = ldap_root / f"start{_start}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                ["sh", str(OPENLDAP)], env=stand_in, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        try:
            deadline = time.monotonic() + 30
            while not _listening(port):
                assert process.poll() is None, log.read_text(errors="replace")
                assert time.monotonic() < deadline, "slapd did not listen within 30 s"
                time.sleep(0.1)
            read = read_people(settings)
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=15)
        assert read.complete and len(read.entries) == 60 and not read.rejected
        logs.append(log.read_text(errors="replace"))
    assert "directory loaded: 60 people" in logs[0]
    assert "directory loaded" not in logs[1], "a second start keeps the data"
    assert env["DIRECTORY_BIND_PASSWORD"] not in "".join(logs)
    assert env["DIRECTORY_BIND_PASSWORD"] not in (ldap_root / "run" / "slapd.conf").read_text()
