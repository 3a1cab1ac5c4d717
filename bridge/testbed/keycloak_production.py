"""Keycloak in production mode on PostgreSQL, on this machine, as deploy/keycloak/Dockerfile and docker-compose.yml
run it in their containers: ``kc.sh build`` once with the image's build options, then ``kc.sh start --optimized``.

The build rewrites the distribution's Quarkus application, so it runs on a copy of the cached distribution (the
test bed's ``start-dev`` copy stays untouched), kept in the cache under the version and a digest of the build
options: later runs skip it. A file lock serialises builds of several sessions; a build that died half-way
leaves no "built" marker and is redone.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bridge.errors import SetupError
from bridge.testbed.java import find_java_home
from bridge.testbed.keycloak_server import KEYCLOAK_VERSION, cache_dir, ensure_distribution
from bridge.testbed.ports import stop_group, wait_until

MARKER = ".bridge-build.json"
#: The test bed's heap (keycloak_server): in a container Keycloak sizes its heap from the container's memory
#: limit; on a shared machine without one, its default would take 70 % of the machine's memory.
HEAP = "-Xms256m -Xmx1536m"


def build_home(build_args: Sequence[str]) -> Path:
    """Where the distribution built with ``build_args`` (``["build", "--db=postgres", …]``) is cached."""
    digest = hashlib.sha256("\0".join(build_args).encode()).hexdigest()[:12]
    return cache_dir() / f"keycloak-{KEYCLOAK_VERSION}-built-{digest}"


def ensure_production_build(build_args: Sequence[str]) -> tuple[Path, float]:
    """The Keycloak home built with ``build_args``, and the seconds spent building it now (0 when cached)."""
    if not build_args or build_args[0] != "build":
        raise SetupError(f"not a kc.sh build command: {list(build_args)}")
    home = build_home(build_args)
    if (home / MARKER).is_file():
        return home, 0.0
    with (cache_dir() / "keycloak-build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (home / MARKER).is_file():  # built by another session meanwhile
            return home, 0.0
        started = time.monotonic()
        source = ensure_distribution()
        shutil.rmtree(home, ignore_errors=True)
        # Built in place: Quarkus' build output is not meant to be moved afterwards.
        shutil.copytree(source, home, symlinks=True, ignore=shutil.ignore_patterns("data"))
        env = {**os.environ, "JAVA_HOME": str(find_java_home())}
        result = subprocess.run(
            [str(home / "bin" / "kc.sh"), *build_args], env=env, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise SetupError(
                f"kc.sh {' '.join(build_args)} failed (exit {result.returncode}): "
                f"{(result.stdout + result.stderr).strip()[-1500:]}"
            )
        (home / MARKER).write_text(json.dumps({"version": KEYCLOAK_VERSION, "build": list(build_args)}))
        return home, time.monotonic() - started


@dataclass
class ProductionKeycloak:
    """A ``kc.sh start --optimized`` process: its ports, its log."""

    home: Path
    port: int
    management_port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """Where it listens (loopback)."""
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        """True while the server runs."""
        return self.process is not None and self.process.poll() is None

    def ready(self) -> bool:
        """``/health/ready`` on the management port answers 200 (the compose healthcheck's question)."""
        try:
            response = httpx.get(f"http://127.0.0.1:{self.management_port}/health/ready", timeout=2)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    def wait_ready(self, *, timeout: float = 300) -> None:
        """Return once ready; a :class:`SetupError` naming the log if it dies or takes longer."""
        wait_until(self.ready, timeout=timeout, what=f"Keycloak (log: {self.log_path})", alive=self.alive)

    def stop(self) -> None:
        """SIGTERM to the process group (kc.sh and its JVM), SIGKILL after 30 s."""
        if self.process is not None:
            stop_group(self.process, timeout=30)
        self.process = None


def start_production(
    home: Path,
    command: Sequence[str],
    environment: Mapping[str, str],
    *,
    port: int,
    management_port: int,
    log_path: Path,
) -> ProductionKeycloak:
    """Run ``kc.sh <command>`` (compose's ``["start", "--optimized"]``) with ``environment`` (the compose
    service's, hosts replaced), listening on 127.0.0.1 at ``port`` and ``management_port`` instead of the
    container's 8080 and 9000. Returns at once; call :meth:`ProductionKeycloak.wait_ready`."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("KC_")},
        "JAVA_HOME": str(find_java_home()),
        "JAVA_OPTS_KC_HEAP": HEAP,
        **environment,
    }
    args = [
        str(home / "bin" / "kc.sh"),
        *command,
        "--http-host=127.0.0.1",
        f"--http-port={port}",
        f"--http-management-port={management_port}",
    ]
    server = ProductionKeycloak(home=home, port=port, management_port=management_port, log_path=log_path)
    with log_path.open("ab") as log:
        server.process = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return server
