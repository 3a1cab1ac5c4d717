"""Run Debian's OpenLDAP ``slapd`` on loopback as the stand-in for the official mail directory.

Each instance has its own configuration and database in a temporary directory, is seeded offline with
``slapadd`` (fast even for 100,000 people) and exposes a read-only service DN for Keycloak and the bridge,
so neither needs the directory's root credentials.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bridge.domain.units import UnitTree
from bridge.errors import SetupError
from bridge.testbed.directory_gen import Person, directory_ldif, generate_people, ssha
from bridge.testbed.ports import free_port, stop_group, wait_until
from bridge.testbed.tls_certs import CertFiles

BASE_DN = "dc=vss,dc=gov,dc=vn"
PEOPLE_BASE = f"ou=people,{BASE_DN}"
READER_DN = f"cn=sso-reader,{BASE_DN}"
SLAPD = Path("/usr/sbin/slapd")
SCHEMA_DIR = Path("/etc/ldap/schema")
MODULE_DIR = Path("/usr/lib/ldap")

SLAPD_CONF = """\
include {schema}/core.schema
include {schema}/cosine.schema
include {schema}/inetorgperson.schema
include {schema}/nis.schema
modulepath {modules}
moduleload back_mdb
pidfile {workdir}/slapd.pid
argsfile {workdir}/slapd.args
sizelimit unlimited
timelimit unlimited
{tls}database mdb
maxsize 4294967296
suffix "{base}"
rootdn "cn=admin,{base}"
rootpw {rootpw}
directory {workdir}/db
index objectClass eq
index uid,mail eq
index modifyTimestamp eq
access to attrs=userPassword by dn.exact="{reader}" none by anonymous auth by * none
access to * by dn.exact="{reader}" read by self read by * none
"""


@dataclass
class SlapdServer:
    """A running slapd with a seeded directory."""

    url: str
    workdir: Path
    root_dn: str
    root_password: str = field(repr=False)
    reader_dn: str
    reader_password: str = field(repr=False)
    people: list[Person]
    process: subprocess.Popen[bytes] | None = None
    #: ``ldaps://127.0.0.1:PORT`` when started with a certificate (``url`` then offers StartTLS too); else "".
    ldaps_url: str = ""
    #: slapd logs each connection and operation (``-d stats``) to ``workdir/slapd.log``: what a client sent.
    log_stats: bool = False

    def alive(self) -> bool:
        """True while slapd runs."""
        return self.process is not None and self.process.poll() is None

    def ldap_cli(self, tool: str, ldif: str, *extra: str) -> str:
        """Run an ldap-utils tool (``ldapmodify``, ``ldapdelete`` …) as the directory root; returns stdout."""
        result = subprocess.run(
            [tool, "-x", "-H", self.url, "-D", self.root_dn, "-w", self.root_password, *extra],
            input=ldif,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise SetupError(f"{tool} failed: {result.stderr.strip()}")
        return result.stdout

    def modify(self, ldif: str) -> None:
        """Apply an LDIF change set (``changetype:`` records) to the live directory."""
        self.ldap_cli("ldapmodify", ldif)

    def delete(self, dns: Iterable[str]) -> None:
        """Delete entries by DN."""
        self.ldap_cli("ldapdelete", "\n".join(dns) + "\n")

    def stop(self) -> None:
        """Stop slapd and keep its files: :meth:`start` serves the same directory on the same URL again."""
        if self.process is not None:
            stop_group(self.process, timeout=15)

    def start(self) -> None:
        """Start a stopped slapd again (a directory outage that ends); returns once it listens."""
        if self.alive():
            return
        self.process = _launch(self.workdir, self.url, self.ldaps_url, log_stats=self.log_stats)
        _wait_listening(self)

    def log(self) -> str:
        """What slapd wrote to its log so far (with ``log_stats``: each connection and operation)."""
        return (self.workdir / "slapd.log").read_text(encoding="utf-8", errors="replace")

    def close(self) -> None:
        """Stop slapd and remove its files."""
        if self.process is not None:
            stop_group(self.process, timeout=15)
        shutil.rmtree(self.workdir, ignore_errors=True)


def _reader_entry(password: str) -> str:
    salt = secrets.token_bytes(8)
    return (
        f"dn: {READER_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n"
        f"cn: sso-reader\nuserPassword: {ssha(password, salt=salt)}\n\n"
    )


def start_slapd(
    units: UnitTree,
    *,
    size: int = 2000,
    seed: int = 2025,
    day: dt.date | None = None,
    tls: CertFiles | None = None,
    log_stats: bool = False,
) -> SlapdServer:
    """Generate ``size`` people, load them with slapadd and start slapd on 127.0.0.1 and a free port.

    With ``tls`` (a certificate, its key and its CA, PEM), slapd also serves ``ldaps://`` on a second port
    (:attr:`SlapdServer.ldaps_url`) and offers StartTLS on the ``ldap://`` one. With ``log_stats`` slapd logs
    every connection and operation to ``slapd.log`` (:meth:`SlapdServer.log`).
    """
    for tool in (SLAPD, Path("/usr/sbin/slapadd")):
        if not tool.exists():
            raise SetupError(f"{tool} is missing: `apt-get install slapd ldap-utils`")
    if shutil.which("ldapmodify") is None:
        raise SetupError("ldapmodify is missing: `apt-get install ldap-utils`")
    workdir = Path(tempfile.mkdtemp(prefix="bhxh-slapd-"))
    (workdir / "db").mkdir()
    root_password = secrets.token_urlsafe(16)
    reader_password = secrets.token_urlsafe(16)
    salt = secrets.token_bytes(8)
    conf = SLAPD_CONF.format(
        schema=SCHEMA_DIR,
        modules=MODULE_DIR,
        workdir=workdir,
        base=BASE_DN,
        reader=READER_DN,
        rootpw=ssha(root_password, salt=salt),
        tls=(
            f"TLSCACertificateFile {tls.ca}\nTLSCertificateFile {tls.cert}\nTLSCertificateKeyFile {tls.key}\n"
            if tls is not None
            else ""
        ),
    )
    (workdir / "slapd.conf").write_text(conf)
    people = generate_people(units, size=size, seed=seed, day=day)
    ldif_path = workdir / "seed.ldif"
    with ldif_path.open("w", encoding="utf-8") as fh:
        for chunk in directory_ldif(people, BASE_DN, PEOPLE_BASE):
            fh.write(chunk)
        fh.write(_reader_entry(reader_password))
    load = subprocess.run(
        ["/usr/sbin/slapadd", "-q", "-f", str(workdir / "slapd.conf"), "-l", str(ldif_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if load.returncode != 0:
        raise SetupError(f"slapadd failed: {load.stderr.strip()[-800:]}")
    url = f"ldap://127.0.0.1:{free_port()}"
    ldaps_url = f"ldaps://127.0.0.1:{free_port()}" if tls is not None else ""
    process = _launch(workdir, url, ldaps_url, log_stats=log_stats)
    server = SlapdServer(
        url=url,
        workdir=workdir,
        root_dn=f"cn=admin,{BASE_DN}",
        root_password=root_password,
        reader_dn=READER_DN,
        reader_password=reader_password,
        people=people,
        process=process,
        ldaps_url=ldaps_url,
        log_stats=log_stats,
    )
    try:
        _wait_listening(server)
    except SetupError:
        server.close()
        raise
    return server


def _launch(workdir: Path, url: str, ldaps_url: str = "", *, log_stats: bool = False) -> subprocess.Popen[bytes]:
    listen = f"{url} {ldaps_url}".strip()
    with (workdir / "slapd.log").open("ab") as log:
        return subprocess.Popen(
            [str(SLAPD), "-d", "stats" if log_stats else "0", "-f", str(workdir / "slapd.conf"), "-h", listen],
            stdout=subprocess.DEVNULL,
            stderr=log,
            env=dict(os.environ),
            start_new_session=True,
        )


def _wait_listening(server: SlapdServer) -> None:
    port = int(server.url.rsplit(":", 1)[1])

    def listening() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True

    wait_until(listening, timeout=30, what=f"slapd (log: {server.workdir / 'slapd.log'})", alive=server.alive)


def fingerprint(people: Iterable[Person]) -> str:
    """A short digest of a generated directory, to show two runs generated the same people."""
    digest = hashlib.sha256()
    for person in people:
        digest.update(f"{person.mail}|{person.unit_code}|{person.full_name}".encode())
    return digest.hexdigest()[:16]
