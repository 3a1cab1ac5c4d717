"""The deployment smoke test (issue 11, 6b): docker-compose.yml's system started from empty on this machine.

There is no Docker engine here, so each service runs as a process with its compose service's exact command and
environment (tests/compose_file.py ``resolved_env``; only host names and ports replaced, everything on loopback):

- ``postgres``: a fresh cluster (bridge/testbed/postgres_server.py) reduced to its superuser, as the image's empty
  volume is, then deploy/postgres-init/10-roles-and-databases.sh as the image runs it;
- ``keycloak``: the cached distribution built once with the ``kc.sh build`` options of deploy/keycloak/Dockerfile
  (cached by version and options), then ``kc.sh start --optimized`` on that PostgreSQL;
- ``openldap``: the test bed's slapd with 3,000 generated people, one of them the first IT Center administrator,
  stands in for the stand-in (whose own entrypoint tests/ops/test_deploy_files.py runs);
- ``bridge-init`` (``bridge init``), ``bridge-api`` (``bridge serve``), ``bridge-worker`` (``bridge worker``), with
  the bridge image's ENV.

From an empty database it must reach a realm, a first sync of the directory, a green ``/readyz`` on the API and the
worker, and a lock recorded through the API with the first IT Center administrator's real token, applied and
verified by the worker. Then the worker gets SIGTERM while a sync is in flight, must exit within 10 s, and once
restarted completes the sync: every person exactly once in Keycloak, in exactly one unit group, and a full run
afterwards writes nothing. (A machine fast enough to finish the run within the worker's grace says so in the
output.) Everything started is stopped, also on failure. The time of each phase is printed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import secrets
import shlex
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, bindparam, create_engine, text

from bridge.adapters.keycloak.actual import ActualState, read_actual
from bridge.clock import today_vn
from bridge.domain.units import UnitTree, UnitType
from bridge.services.keycloak_config import bootstrap_admin
from bridge.settings import PROJECT_ROOT, KeycloakSettings, Settings, SyncSettings
from bridge.testbed.directory_gen import Person, generate_people, password_for, person_ldif
from bridge.testbed.keycloak_production import ProductionKeycloak, ensure_production_build, start_production
from bridge.testbed.ports import free_port
from bridge.testbed.postgres_server import APP_ROLE, OWNER_ROLE, PostgresServer
from bridge.testbed.relying_party import RelyingParty
from bridge.testbed.slapd_server import PEOPLE_BASE, SlapdServer, start_slapd
from tests.compose_file import SERVICES, filled_env, resolved_env

pytestmark = pytest.mark.integration

POSTGRES_INIT = PROJECT_ROOT / "deploy" / "postgres-init" / "10-roles-and-databases.sh"
KEYCLOAK_DOCKERFILE = PROJECT_ROOT / "deploy" / "keycloak" / "Dockerfile"
BRIDGE_DOCKERFILE = PROJECT_ROOT / "Dockerfile"
REALM = "bhxh"
#: People in the directory at the start: the worker's first sync imports them through Keycloak's federation import
#: (at least ``sync.bulk_import_min``), as a deployment for 20,000 staff would. The interrupted run then moves all
#: but two of them and adds the joiners: about 3,500 operations, at about 7 ms of CPU each (Keycloak, PostgreSQL
#: and the worker together, measured here) more than two idle cores get through in the worker's 8 s of grace.
SIZE = 3000
#: Joiners added for the interrupted run: one fewer than ``sync.bulk_import_min``, so it creates them one by one.
JOINERS = SyncSettings().bulk_import_min - 1
#: compose's ``stop_grace_period`` of bridge-worker is 15 s; the issue asks for an exit within 10 s.
EXIT_WITHIN_S = 10.0


# --- what docker-compose.yml and the Dockerfiles say --------------------------------------------------------------
def keycloak_build_args() -> list[str]:
    """The ``kc.sh`` arguments of deploy/keycloak/Dockerfile's build step (``build --db=postgres …``)."""
    found = re.search(r"^RUN /opt/keycloak/bin/kc\.sh (build[^\n]*)$", KEYCLOAK_DOCKERFILE.read_text(), re.M)
    assert found, "deploy/keycloak/Dockerfile builds Keycloak with kc.sh build"
    return shlex.split(found.group(1))


def bridge_image_env() -> dict[str, str]:
    """The ENV of the bridge image's runtime stage, its /app (WORKDIR) being the project root here."""
    runtime = BRIDGE_DOCKERFILE.read_text().rsplit("\nFROM ", 1)[1].replace("\\\n", " ")
    env: dict[str, str] = {}
    for line in runtime.splitlines():
        if line.startswith("ENV "):
            for item in shlex.split(line[4:]):
                name, _, value = item.partition("=")
                env[name] = str(PROJECT_ROOT) + value[len("/app") :] if value.startswith("/app") else value
    assert "BRIDGE_KEYCLOAK__CONFIG_DIR" in env
    return env


def host_env() -> dict[str, str]:
    """This machine's environment without any bridge or Keycloak setting: a container starts with none."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("BRIDGE_", "KC_"))}


def command(service: str) -> list[str]:
    """A compose service's command, ``bridge`` being this interpreter's console script."""
    argv = [str(a) for a in SERVICES[service]["command"]]
    assert argv[0] == "bridge"
    return [str(Path(sys.executable).with_name("bridge")), *argv[1:]]


# --- processes -----------------------------------------------------------------------------------------------------
@dataclass
class Service:
    """One bridge process: its log, and a SIGTERM to its main process as ``docker stop`` sends it."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 30) -> tuple[int | None, float]:
        """SIGTERM, wait; the exit code and the seconds it took (SIGKILL to its group after ``timeout``)."""
        started = time.monotonic()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=timeout)
        seconds = time.monotonic() - started
        code = self.process.poll()
        self.kill()
        return code, seconds

    def kill(self) -> None:
        """Whatever is left of its process group."""
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


@dataclass
class Deployment:
    """The running system and how to reach it from the test."""

    root: Path
    env: dict[str, str]
    hosts: dict[str, str]
    stack: ExitStack
    phases: dict[str, float] = field(default_factory=dict)
    api_port: int = field(default_factory=free_port)
    worker_port: int = field(default_factory=free_port)
    services: list[Service] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def service_env(self, service: str) -> dict[str, str]:
        """The compose service's environment with hosts replaced, over the image's ENV and a bare host env."""
        env = {**host_env(), **bridge_image_env(), **resolved_env(service, self.env, self.hosts)}
        # Ports published on the host's loopback: listen there, on ports free on this machine.
        if service == "bridge-api":
            env |= {"BRIDGE_API__HOST": "127.0.0.1", "BRIDGE_API__PORT": str(self.api_port)}
        if service == "bridge-worker":
            env |= {"BRIDGE_WORKER__HTTP_HOST": "127.0.0.1", "BRIDGE_WORKER__HTTP_PORT": str(self.worker_port)}
        return env

    def run(self, service: str, *extra: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """A one-shot (``docker compose run --rm <service> …``)."""
        argv = [command(service)[0], *extra] if extra else command(service)
        return subprocess.run(
            argv, env=self.service_env(service), cwd=PROJECT_ROOT, capture_output=True, text=True,
            timeout=timeout, check=False,
        )  # fmt: skip

    def start(self, service: str) -> Service:
        """A long-running service, in its own process group, its output in a log file."""
        log = self.root / f"{service}-{sum(s.name == service for s in self.services)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                command(service), env=self.service_env(service), cwd=PROJECT_ROOT, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        started = Service(service, process, log)
        self.services.append(started)
        self.stack.callback(started.kill)
        return started

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.phases[name] = time.monotonic() - started


def wait_for(check: Callable[[], Any], *, timeout: float, what: str, alive: Callable[[], bool] = lambda: True) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` (and early if a process died)."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        assert alive(), f"{what}: the process exited"
        try:
            value = check()
            if value:
                return value
            last = value
        except (httpx.HTTPError, OSError) as exc:
            last = exc
        time.sleep(0.3)
    raise AssertionError(f"{what}: not within {timeout:.0f} s (last: {last!r})")


def ready(port: int) -> dict[str, Any] | None:
    """``/readyz`` of a bridge process when it answers 200 (the compose healthcheck's question)."""
    response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=8)
    if response.status_code != 200:
        return None
    body: dict[str, Any] = response.json()
    return body


# --- the store and Keycloak, as the test inspects them ---------------------------------------------------------------
def staff_units(units: UnitTree) -> UnitTree:
    """The units of the default realm: the generated directory holds staff only, so every person and every
    move stays in ``bhxh`` (service providers live in their own realm, docs/decisions/0702)."""
    return UnitTree(units=tuple(u for u in units.units if units.realm_of(u.code, u.valid_from) == REALM),
                    realm=units.realm, group_root=units.group_root, central_domain=units.central_domain,
                    extra_domains=units.extra_domains)  # fmt: skip


def runs(store: Engine) -> list[dict[str, Any]]:
    with store.connect() as conn:
        # the default realm's runs (the providers' realm, docs/decisions/0702, is synced after it)
        query = text("SELECT id, mode, status, applied, writes FROM sync_runs WHERE realm = :realm ORDER BY id")
        rows = conn.execute(query, {"realm": REALM})
        return [dict(r._mapping) for r in rows]


def applied_ops(store: Engine, run_id: int) -> int:
    with store.connect() as conn:
        query = text("SELECT count(*) FROM sync_operations WHERE run_id = :run AND status = 'applied'")
        return int(conn.execute(query, {"run": run_id}).scalar_one())


def users_and_unit_groups(settings: Settings, units: UnitTree) -> tuple[int, dict[str, frozenset[str]]]:
    """How many users the realm has (service accounts not counted), and each member of a unit group's unit groups,
    by e-mail. Every person in a unit group and as many users as people: nobody has two accounts. (Listing the
    users instead would make Keycloak look each one up in the directory: 25 s for 1,400 here.)"""
    admin = bootstrap_admin(settings, REALM)  # its async client belongs to one event loop: a new one each time

    async def read() -> ActualState:
        try:
            return await read_actual(admin, unit_root=units.group_root)
        finally:
            await admin.aclose()

    actual = asyncio.run(read())
    return int(admin.get("users/count")), {mail: user.unit_groups for mail, user in actual.users.items()}


def recorded_mails(store: Engine, *run_ids: int) -> set[str]:
    """Whom the runs' recorded operations changed."""
    with store.connect() as conn:
        query = text("SELECT DISTINCT email FROM sync_operations WHERE status = 'applied' AND run_id IN :runs")
        return {str(m) for m in conn.execute(query.bindparams(bindparam("runs", expanding=True)),
                                             {"runs": list(run_ids)}).scalars()}  # fmt: skip


def applied_by_person(store: Engine, run_id: int) -> Counter[str]:
    """How many operations the run applied to each person, by e-mail."""
    with store.connect() as conn:
        query = text("SELECT email FROM sync_operations WHERE run_id = :run AND status = 'applied'")
        return Counter(str(m) for m in conn.execute(query, {"run": run_id}).scalars())


def operations_on(store: Engine, mails: set[str], *run_ids: int) -> list[tuple[str, ...]]:
    """The runs' operations on ``mails`` (run, e-mail, kind, reason, status): what a failed check is about."""
    with store.connect() as conn:
        query = text(
            "SELECT run_id, email, kind, reason, status FROM sync_operations WHERE run_id IN :runs AND email IN :mails"
        ).bindparams(bindparam("runs", expanding=True), bindparam("mails", expanding=True))
        rows = conn.execute(query, {"runs": list(run_ids), "mails": sorted(mails)})
        return [tuple(str(v) for v in r) for r in rows]


def central(units: UnitTree, unit_code: str, day: dt.date) -> bool:
    """A central unit: the IT Center's administrators lock its people (R1)."""
    return units.province_of(unit_code, day) is None and not any(
        u.type is UnitType.PROVIDER for u in units.ancestors(unit_code, day)
    )


def ldap_add(slapd: SlapdServer, people: list[Person]) -> None:
    slapd.ldap_cli("ldapadd", "".join(person_ldif(p, PEOPLE_BASE) + "\n" for p in people))


def move(slapd: SlapdServer, people: list[Person]) -> dict[str, str]:
    """Move each person to the next unit (in code order) that people of the directory work in; their new units."""
    codes = sorted({p.unit_code for p in slapd.people})
    moved = {p.mail: codes[(codes.index(p.unit_code) + 1) % len(codes)] for p in people}
    slapd.modify("".join(
        f"dn: {p.dn_rdn},{PEOPLE_BASE}\nchangetype: modify\nreplace: departmentNumber\n"
        f"departmentNumber: {moved[p.mail]}\n\n"
        for p in people
    ))  # fmt: skip
    return moved


# --- the test -----------------------------------------------------------------------------------------------------
@pytest.fixture
def deployment(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Deployment]:
    started = time.monotonic()
    with ExitStack() as stack:
        made = Deployment(root=tmp_path, env={}, hosts={}, stack=stack)
        try:
            yield made
        finally:
            try:
                stack.close()
            finally:
                total = time.monotonic() - started
                with capsys.disabled():
                    phases = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in made.phases.items())
                    print(f"\ndeployment smoke test: {total:.1f} s in all ({phases})", flush=True)
                    for note in made.notes:
                        print(f"    {note}", flush=True)


def test_a_deployment_from_empty_runs_and_survives_a_worker_stopped_mid_sync(
    deployment: Deployment, units: UnitTree
) -> None:
    d = deployment
    today = today_vn()

    # 1. The directory stand-in, PostgreSQL from an empty volume and its init script.
    with d.phase("directory"):
        slapd = start_slapd(staff_units(units), size=SIZE)
        d.stack.callback(slapd.close)
        it_center = [p for p in slapd.people if units.is_under(p.unit_code, "00012", today)]
        assert it_center, "the generated directory has someone in the IT Center"
        first_admin = it_center[0]
    with d.phase("postgres"):
        postgres = PostgresServer().start()
        d.stack.callback(postgres.stop)
        with postgres.superuser_connection() as conn:  # the image's empty cluster has only its superuser
            conn.execute("DROP DATABASE bridge")
            conn.execute(f"DROP ROLE {APP_ROLE}")
            conn.execute(f"DROP ROLE {OWNER_ROLE}")
        kc_port = free_port()
        d.env.update(filled_env({
            **{name: secrets.token_hex(16) for name in (
                "POSTGRES_PASSWORD", "KC_DB_PASSWORD", "STORE_OWNER_PASSWORD", "STORE_APP_PASSWORD",
                "KC_BOOTSTRAP_ADMIN_PASSWORD", "BRIDGE_CLIENT_SECRET", "LDAP_ROOT_PASSWORD")},
            # Users and tokens see Keycloak by its public name; the bridge reaches it by another (keycloak:8080).
            "KC_HOSTNAME": f"http://localhost:{kc_port}",
            "DIRECTORY_BIND_PASSWORD": slapd.reader_password,
            "FIRST_ADMIN_EMAIL": first_admin.mail,
        }))  # fmt: skip
        d.hosts.update({
            "postgres:5432": f"127.0.0.1:{postgres.port}",
            "keycloak:8080": f"127.0.0.1:{kc_port}",
            "openldap:389": slapd.url.removeprefix("ldap://"),
        })  # fmt: skip
        script_env = {**host_env(), **resolved_env("postgres", d.env), "PGHOST": str(postgres.socket_dir),
                      "PGPORT": str(postgres.port)}  # fmt: skip
        init_db = subprocess.run(["sh", str(POSTGRES_INIT)], env=script_env, capture_output=True, text=True)
        assert init_db.returncode == 0, init_db.stderr

    # 2. Keycloak in production mode on that PostgreSQL: the image's build (cached), then start --optimized.
    with d.phase("keycloak build"):
        home, _built = ensure_production_build(keycloak_build_args())
    with d.phase("keycloak start"):
        keycloak: ProductionKeycloak = start_production(
            home, [str(a) for a in SERVICES["keycloak"]["command"]], resolved_env("keycloak", d.env, d.hosts),
            port=kc_port, management_port=free_port(), log_path=d.root / "keycloak.log",
        )  # fmt: skip
        d.stack.callback(keycloak.stop)
        keycloak.wait_ready(timeout=300)

    # 3. bridge-init, from the empty store.
    with d.phase("bridge init"):
        init = d.run("bridge-init")
        output = init.stdout + init.stderr
        assert init.returncode == 0, output
        assert "bridge init: done." in output and f"{first_admin.mail} appointed IT Center administrator" in output
        assert "role bridge_app created" in output and "store migrated empty →" in output
        assert "/bhxh-administrators: 1 added" in output  # the first administrator must use TOTP (decision 0600)
    settings = Settings(keycloak=KeycloakSettings(
        url=keycloak.url, admin_username=d.env["KC_BOOTSTRAP_ADMIN_USERNAME"],
        admin_password=SecretStr(d.env["KC_BOOTSTRAP_ADMIN_PASSWORD"]),
    ))  # fmt: skip
    admin = bootstrap_admin(settings, REALM)
    assert admin.get("")["realm"] == REALM
    store = create_engine(resolved_env("bridge-api", d.env, d.hosts)["BRIDGE_STORE__URL"])
    d.stack.callback(store.dispose)

    # 4. bridge-api and bridge-worker: /readyz green, the worker's first sync creates the directory's people.
    with d.phase("api and worker ready"):
        api = d.start("bridge-api")
        worker = d.start("bridge-worker")
        for name, port, process in (("bridge-api", d.api_port, api), ("bridge-worker", d.worker_port, worker)):
            # two processes importing the application on 2 shared cores: up to 84 s seen here at load 20
            checks = wait_for(partial(ready, port), timeout=240, what=f"{name} /readyz", alive=process.alive)["checks"]
            assert {n for n, c in checks.items() if c["ok"]} == {"store", "keycloak", "directory"}, process.tail()
    with d.phase("first sync"):
        first = wait_for(lambda: [r for r in runs(store) if r["status"] == "applied"], timeout=300,
                         what="the worker's first sync", alive=worker.alive)[0]  # fmt: skip
        assert first["mode"] == "full" and first["applied"] >= SIZE, first
        users, groups = users_and_unit_groups(settings, units)
        assert users == SIZE and set(groups) == {p.mail for p in slapd.people}
        assert {m: g for m, g in groups.items() if len(g) != 1} == {}, "everyone in one unit group"

    # 5. A lock recorded through the API with the first administrator's own token, applied and verified.
    with d.phase("lock"):
        target = next(p for p in slapd.people if p.mail != first_admin.mail and central(units, p.unit_code, today))
        console = admin.get("clients", clientId="bhxh-bridge-ui")[0]  # confidential: the secret Keycloak holds
        ui_secret = admin.get(f"clients/{console['id']}/client-secret")["value"]
        ui = RelyingParty(issuer=f"{d.env['KC_HOSTNAME']}/realms/{REALM}", client_id="bhxh-bridge-ui",
                          client_secret=ui_secret, redirect_uri="http://127.0.0.1:8000/ui/callback")  # fmt: skip
        # bridge init put the first administrator in the administrator group: TOTP is set up at this first login
        first_login = ui.login(first_admin.mail, password_for(first_admin.employee_number), set_up_totp=True)
        token = first_login.tokens["access_token"]
        ui.login(target.mail, password_for(target.employee_number))  # a session the lock must end
        api_url = f"http://127.0.0.1:{d.api_port}"
        headers = {"Authorization": f"Bearer {token}"}
        body = {"email": target.mail, "reason": "retired", "decision_number": "15/QĐ-BHXH",
                "decision_date": today.isoformat(), "effective_date": today.isoformat()}  # fmt: skip
        created = httpx.post(f"{api_url}/locks", json=body, headers=headers, timeout=30)
        assert created.status_code == 201, created.text
        lock_id = created.json()["id"]

        def in_force() -> dict[str, Any] | None:
            decision: dict[str, Any] = httpx.get(f"{api_url}/locks/{lock_id}", headers=headers, timeout=10).json()
            return decision if decision["status"] == "in_force" else None

        decision = wait_for(in_force, timeout=60, what="the lock applied by the worker", alive=worker.alive)
        proof = decision["proof"]
        assert (proof["enabled"], proof["sessions"], proof["offline_sessions"]) == (False, 0, 0), proof
        user = admin.get("users", email=target.mail, exact="true")[0]
        assert user["enabled"] is False and admin.get(f"users/{user['id']}/sessions") == []

    # 6. SIGTERM to the worker while a sync is in flight; it exits in time; restarted, it completes the sync.
    with d.phase("worker stopped mid-sync"):
        code, seconds = worker.stop()
        assert code == 0 and seconds <= EXIT_WITHIN_S, (code, seconds, worker.tail())
        everyone = generate_people(staff_units(units), size=SIZE + JOINERS)
        assert [p.mail for p in everyone[:SIZE]] == [p.mail for p in slapd.people]
        joiners = everyone[SIZE:]
        ldap_add(slapd, joiners)
        # Everyone else changes unit at the same time: with the joiners, more work than the worker's grace allows.
        moved = move(slapd, [p for p in slapd.people if p.mail not in (first_admin.mail, target.mail)])
        work = len(joiners) + len(moved)
        before = max(r["id"] for r in runs(store))
        worker = d.start("bridge-worker")

        def in_flight() -> dict[str, Any] | None:
            latest = [r for r in runs(store) if r["id"] > before]
            if latest and latest[-1]["status"] == "running" and applied_ops(store, latest[-1]["id"]) >= 1:
                return latest[-1]
            assert not latest or latest[-1]["status"] == "running", f"the run ended before the SIGTERM: {latest}"
            return None

        interrupted = wait_for(in_flight, timeout=180, what="a sync in flight", alive=worker.alive)
        at_sigterm = applied_ops(store, interrupted["id"])
        code, seconds = worker.stop()
        assert code == 0 and seconds <= EXIT_WITHIN_S, (code, seconds, worker.tail())
        done_before_restart = applied_ops(store, interrupted["id"])
        interrupted_now = next(r for r in runs(store) if r["id"] == interrupted["id"])
        # The worker's run stops taking new people at SIGTERM and records what it applied ("stopped"); "running"
        # would mean it had to be cancelled after the grace.
        if interrupted_now["status"] in ("stopped", "running"):
            assert done_before_restart < work
            d.notes.append(
                f"interrupted {interrupted_now['mode']} run ({interrupted_now['status']}): {at_sigterm} of {work} "
                f"operations recorded at SIGTERM, {done_before_restart} when the worker exited after {seconds:.1f} s"
            )
        else:  # a machine fast enough to finish it within the grace: the restart finds nothing left to do
            d.notes.append(
                f"NOT CUT: the run in flight at SIGTERM finished within the worker's grace ({interrupted_now}); on "
                "this machine SIZE must grow for the restart to have work left"
            )
    with d.phase("restarted worker completes the sync"):
        worker = d.start("bridge-worker")
        rerun = wait_for(
            lambda: [r for r in runs(store) if r["id"] > interrupted["id"] and r["status"] == "applied"],
            timeout=300, what="the sync after the restart", alive=worker.alive,
        )[0]  # fmt: skip
        changed = {p.mail for p in joiners} | set(moved)
        # Nothing the interrupted run applied is applied again (the rerun plans from Keycloak as it is), and the
        # rerun touches nobody who did not change. Counted by person: one person may take two operations.
        before, after = applied_by_person(store, interrupted["id"]), applied_by_person(store, rerun["id"])
        again, strays = set(before) & set(after), (set(before) | set(after)) - changed
        assert (again, strays) == (set(), set()), operations_on(store, again | strays, interrupted["id"], rerun["id"])
        assert len(after) <= work - len(before), (rerun, len(before), work)
        twice = {m: n for m, n in (before + after).items() if n > 1}
        if twice:
            d.notes.append(
                f"more than one operation: {operations_on(store, set(twice), interrupted['id'], rerun['id'])}"
            )
        recorded = recorded_mails(store, interrupted["id"], rerun["id"])
        d.notes.append(
            f"the restarted worker's run applied {rerun['applied']}; {len(changed - recorded)} change(s) applied by "
            "the interrupted run in its last moments are in Keycloak but in neither run's record"
        )
        if interrupted_now["status"] == "stopped":
            assert changed - recorded == set(), "a stopped run recorded every operation it applied"
        code, seconds = worker.stop()
        assert code == 0 and seconds <= EXIT_WITHIN_S, (code, seconds, worker.tail())
    with d.phase("no duplicates"):
        users, memberships = users_and_unit_groups(settings, units)
        assert users == len(everyone), f"{users} users for {len(everyone)} people"
        assert set(memberships) == {p.mail for p in everyone}
        assert {m: g for m, g in memberships.items() if len(g) != 1} == {}, "a user in two unit groups"
        assert {m: memberships[m] for m in moved} == {
            m: frozenset({units.group_path(code, today)}) for m, code in moved.items()
        }, "every mover in their new unit's group only"
    with d.phase("full run writes nothing"):
        # Converged: a full run afterwards, with the worker's environment (docker compose run bridge-worker
        # bridge sync --full), writes nothing, and the lock still holds.
        full = d.run("bridge-worker", "sync", "--full")
        assert full.returncode == 0, full.stdout + full.stderr
        last = runs(store)[-1]
        assert (last["mode"], last["status"], last["writes"]) == ("full", "applied", 0), last
        assert admin.get(f"users/{user['id']}")["enabled"] is False

    # The API stops cleanly; nothing secret in any log.
    code, seconds = api.stop()
    assert code == 0, (code, seconds, api.tail())
    logs = "".join(s.log.read_text(errors="replace") for s in d.services) + output + keycloak.log_path.read_text()
    for name in ("STORE_APP_PASSWORD", "STORE_OWNER_PASSWORD", "BRIDGE_CLIENT_SECRET", "KC_BOOTSTRAP_ADMIN_PASSWORD",
                 "KC_DB_PASSWORD", "DIRECTORY_BIND_PASSWORD"):  # fmt: skip
        assert d.env[name] not in logs, f"{name} in a log"
