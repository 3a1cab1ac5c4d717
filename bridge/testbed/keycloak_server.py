"""Download, verify, cache and run the pinned Keycloak distribution (``kc.sh start-dev`` on loopback).

The distribution comes from Maven Central through ``mvn dependency:copy``, its SHA-256 is checked against the
value pinned here, and it is unpacked once into a cache outside the repository. Each running instance gets its
own H2 database file and ports, so several test sessions can share the cached distribution; starts are
serialised by a file lock because ``start-dev`` may rebuild the distribution's Quarkus application.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import secrets
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bridge.errors import SetupError
from bridge.testbed.java import find_java_home
from bridge.testbed.ports import free_port, stop_group, wait_until

KEYCLOAK_VERSION = "26.7.3"
KEYCLOAK_SHA256 = "77657f30b7e90d70f727712ce1c967f430fd6a5e9f458d32d8c6df0635345f47"
ARTIFACT = f"org.keycloak:keycloak-quarkus-dist:{KEYCLOAK_VERSION}:tar.gz"


def cache_dir() -> Path:
    """Where downloads and unpacked servers are kept (``BRIDGE_CACHE_DIR``, default ``~/.cache/bhxh-bridge``)."""
    path = Path(os.environ.get("BRIDGE_CACHE_DIR", Path.home() / ".cache" / "bhxh-bridge"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def ensure_distribution() -> Path:
    """The unpacked Keycloak home, downloading and verifying it first when the cache lacks it."""
    base = cache_dir()
    home = base / f"keycloak-{KEYCLOAK_VERSION}"
    if (home / "bin" / "kc.sh").is_file():
        return home
    archive = base / f"keycloak-quarkus-dist-{KEYCLOAK_VERSION}.tar.gz"
    if not archive.is_file() or _sha256(archive) != KEYCLOAK_SHA256:
        if shutil.which("mvn") is None:
            raise SetupError("Maven (`mvn`) is needed to fetch Keycloak: `apt-get install maven`")
        result = subprocess.run(
            ["mvn", "-q", "-B", "dependency:copy", f"-Dartifact={ARTIFACT}", f"-DoutputDirectory={base}"],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0 or not archive.is_file():
            raise SetupError(
                f"downloading {ARTIFACT} from Maven Central failed (exit {result.returncode}): "
                f"{(result.stdout + result.stderr).strip()[-800:]}. Check access to repo.maven.apache.org."
            )
    actual = _sha256(archive)
    if actual != KEYCLOAK_SHA256:
        archive.unlink()
        raise SetupError(f"{archive.name}: SHA-256 {actual} does not match the pinned {KEYCLOAK_SHA256}")
    with tempfile.TemporaryDirectory(dir=base) as tmp:
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        (Path(tmp) / f"keycloak-{KEYCLOAK_VERSION}").rename(home)
    return home


@dataclass
class KeycloakServer:
    """A running Keycloak: its URL, its bootstrap administrator, its process."""

    url: str
    admin_username: str
    admin_password: str = field(repr=False)
    workdir: Path
    process: subprocess.Popen[bytes] | None = None
    port: int = 0
    management_port: int = 0
    log_path: Path = field(default_factory=Path)
    #: Extra JVM options (``JAVA_OPTS_APPEND``), e.g. a longer transaction timeout for a benchmark's baseline.
    java_opts: str = ""
    _owns_workdir: bool = True

    def alive(self) -> bool:
        """True while the server process runs."""
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL); keep the data directory for a later :meth:`restart`."""
        if self.process is not None:
            stop_group(self.process, timeout=30)
        self.process = None

    def restart(self) -> None:
        """Start the server again on the same ports and database (used by outage tests)."""
        self.stop()
        _launch(self)

    def close(self) -> None:
        """Stop the server and remove its working directory."""
        self.stop()
        if self._owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


def _launch(server: KeycloakServer) -> None:
    home = ensure_distribution()
    java_home = find_java_home()
    env = {
        **os.environ,
        "JAVA_HOME": str(java_home),
        "KC_BOOTSTRAP_ADMIN_USERNAME": server.admin_username,
        "KC_BOOTSTRAP_ADMIN_PASSWORD": server.admin_password,
        "JAVA_OPTS_KC_HEAP": "-Xms256m -Xmx1536m",
    }
    if server.java_opts:
        env["JAVA_OPTS_APPEND"] = f"{env.get('JAVA_OPTS_APPEND', '')} {server.java_opts}".strip()
    db_url = f"jdbc:h2:file:{server.workdir}/h2/keycloakdb;NON_KEYWORDS=VALUE;DB_CLOSE_ON_EXIT=FALSE"
    args = [
        str(home / "bin" / "kc.sh"),
        "start-dev",
        "--http-host=127.0.0.1",
        f"--http-port={server.port}",
        f"--http-management-port={server.management_port}",
        "--health-enabled=true",
        f"--db-url={db_url}",
        "--log-level=WARN,org.keycloak.quarkus:INFO",
    ]
    lock_path = cache_dir() / "keycloak-start.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        log = server.log_path.open("ab")
        server.process = subprocess.Popen(
            args, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=server.workdir, start_new_session=True
        )

        def ready() -> bool:
            try:
                response = httpx.get(f"http://127.0.0.1:{server.management_port}/health/ready", timeout=2)
            except httpx.HTTPError:
                return False
            return response.status_code == 200

        try:
            wait_until(ready, timeout=240, what=f"Keycloak (log: {server.log_path})", alive=server.alive)
        except SetupError:
            server.stop()
            raise


def start_keycloak(workdir: Path | None = None, *, java_opts: str = "") -> KeycloakServer:
    """Start a fresh Keycloak on 127.0.0.1 and free ports, with a random bootstrap admin password (and
    ``java_opts`` appended to its JVM options)."""
    owns = workdir is None
    workdir = workdir or Path(tempfile.mkdtemp(prefix="bhxh-keycloak-"))
    port = free_port()
    server = KeycloakServer(
        url=f"http://127.0.0.1:{port}",
        admin_username="bootstrap-admin",
        admin_password=secrets.token_urlsafe(18),
        workdir=workdir,
        port=port,
        management_port=free_port(),
        log_path=workdir / "keycloak.log",
        java_opts=java_opts,
        _owns_workdir=owns,
    )
    _launch(server)
    return server
