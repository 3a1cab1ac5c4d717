"""The directory adapter verifies the directory's TLS certificate, on a real slapd serving ldaps and StartTLS.

A throw-away CA made in the module signs a certificate for ``127.0.0.1``/``localhost`` (the directory) and one
for ``directory.example`` (an impostor holding a genuine certificate of the same CA for another host). Each is
served by its own small slapd. Without verification a man in the middle could feed the bridge a fake directory
(and so mass leavers) and read the bind password: every failure below must be a clear
:class:`DirectoryUnavailable` naming the URL and the reason, never a read (decision 0840).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from bridge.adapters.directory.ldap import LdapDirectory, ping, read_mails, read_people
from bridge.adapters.store import migrate
from bridge.domain.sync.planner import OpKind
from bridge.domain.units import UnitTree
from bridge.errors import DirectoryUnavailable
from bridge.interfaces.ops import ops_router
from bridge.services.health import directory_probe
from bridge.services.sync.run import RunReport, run_sync
from bridge.settings import DirectorySettings, Settings
from bridge.testbed.slapd_server import PEOPLE_BASE, SlapdServer, start_slapd
from bridge.testbed.stack import Stack
from bridge.testbed.tls_certs import ThrowawayCa, make_ca

pytestmark = pytest.mark.integration
NOT_TRUSTED = "TLS certificate not trusted"
MISMATCH = "host name mismatch"


@dataclasses.dataclass
class Bed:
    """The CAs and the two directories of the module."""

    ca: ThrowawayCa
    other_ca: ThrowawayCa
    directory: SlapdServer
    impostor: SlapdServer


@pytest.fixture(scope="module")
def bed(units: UnitTree, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bed]:
    certs = tmp_path_factory.mktemp("directory-tls")
    ca = make_ca(certs)
    other_dir = certs / "other"
    other_dir.mkdir()
    other_ca = make_ca(other_dir, name="Another CA")
    directory = start_slapd(units, size=20, seed=840, tls=ca.issue(("127.0.0.1", "localhost"), certs, stem="good"))
    try:
        impostor = start_slapd(
            units, size=5, seed=841, tls=ca.issue(("directory.example",), certs, stem="other"), log_stats=True
        )
    except Exception:
        directory.close()
        raise
    yield Bed(ca=ca, other_ca=other_ca, directory=directory, impostor=impostor)
    impostor.close()
    directory.close()


def settings_of(
    slapd: SlapdServer, *, url: str, ca_file: Path | None = None, start_tls: bool = False
) -> DirectorySettings:
    return DirectorySettings(
        url=url,
        bind_dn=slapd.reader_dn,
        bind_password=SecretStr(slapd.reader_password),
        people_base=PEOPLE_BASE,
        ca_file=ca_file,
        start_tls=start_tls,
        lookup_timeout_s=5.0,
    )


def refused(settings: DirectorySettings, reason: str) -> str:
    """The message of the refused full read, checked to name the URL and ``reason`` and to hold no secret."""
    with pytest.raises(DirectoryUnavailable) as caught:
        read_people(settings)
    message = caught.value.message
    assert settings.url in message and reason in message, message
    assert settings.bind_password.get_secret_value() not in message
    return message


def test_ldaps_with_the_ca_reads_every_entry_through_every_connection(bed: Bed) -> None:
    settings = settings_of(bed.directory, url=bed.directory.ldaps_url, ca_file=bed.ca.path)
    expected = {p.mail for p in bed.directory.people}
    read = read_people(settings)
    assert read.complete and len(read.entries) == 20
    assert {e.mail for e in read.entries} == expected
    assert read_mails(settings).mails == expected
    ping(settings)
    lookup = LdapDirectory(settings)  # the lookup pool opens its own connections
    try:
        someone = bed.directory.people[3]
        found = lookup.find(someone.mail)
        assert found is not None and found.email == someone.mail
    finally:
        lookup.close()
    # localhost is in the certificate as well: the name checked is the URL's host
    by_name = settings.model_copy(update={"url": bed.directory.ldaps_url.replace("127.0.0.1", "localhost")})
    assert len(read_people(by_name).entries) == 20


def test_without_the_ca_the_certificate_is_not_trusted_by_any_read(bed: Bed) -> None:
    settings = settings_of(bed.directory, url=bed.directory.ldaps_url)  # the system's trust store
    refused(settings, NOT_TRUSTED)
    # by name (ldap3 tries each address of localhost; the one that answers is not trusted either)
    refused(settings.model_copy(update={"url": bed.directory.ldaps_url.replace("127.0.0.1", "localhost")}), NOT_TRUSTED)
    with pytest.raises(DirectoryUnavailable, match=NOT_TRUSTED):
        read_mails(settings)
    with pytest.raises(DirectoryUnavailable, match=NOT_TRUSTED):
        ping(settings)
    lookup = LdapDirectory(settings)
    try:
        with pytest.raises(DirectoryUnavailable, match=NOT_TRUSTED):
            lookup.find(bed.directory.people[0].mail)
    finally:
        lookup.close()


def test_a_certificate_from_another_ca_is_not_trusted(bed: Bed) -> None:
    refused(settings_of(bed.directory, url=bed.directory.ldaps_url, ca_file=bed.other_ca.path), NOT_TRUSTED)


def test_a_certificate_for_another_host_name_from_the_right_ca_is_refused(bed: Bed) -> None:
    settings = settings_of(bed.impostor, url=bed.impostor.ldaps_url, ca_file=bed.ca.path)
    message = refused(settings, MISMATCH)
    assert "127.0.0.1" in message
    # StartTLS checks the name the same way
    refused(settings_of(bed.impostor, url=bed.impostor.url, ca_file=bed.ca.path, start_tls=True), MISMATCH)
    # the impostor saw the connections, the StartTLS request, and never a bind: the password was not sent
    log = bed.impostor.log()
    assert "ACCEPT" in log and "oid=1.3.6.1.4.1.1466.20037" in log
    assert "BIND" not in log


def test_start_tls_with_the_ca_reads_and_without_it_is_refused(bed: Bed) -> None:
    trusted = settings_of(bed.directory, url=bed.directory.url, ca_file=bed.ca.path, start_tls=True)
    read = read_people(trusted)
    assert read.complete and {e.mail for e in read.entries} == {p.mail for p in bed.directory.people}
    lookup = LdapDirectory(trusted)
    try:
        assert lookup.find(bed.directory.people[5].mail) is not None
    finally:
        lookup.close()
    refused(settings_of(bed.directory, url=bed.directory.url, start_tls=True), NOT_TRUSTED)


def test_a_missing_ca_file_is_named(bed: Bed, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.pem"
    message = refused(settings_of(bed.directory, url=bed.directory.ldaps_url, ca_file=missing), "CA file")
    assert str(missing) in message


def test_readyz_shows_the_directory_not_ok_with_the_reason(bed: Bed) -> None:
    def readyz(settings: DirectorySettings) -> tuple[int, dict[str, object]]:
        lookup = LdapDirectory(settings)
        app = FastAPI()
        app.include_router(ops_router({"directory": directory_probe(lookup)}, process="api"))
        try:
            with TestClient(app) as client:
                answer = client.get("/readyz")
            check: dict[str, object] = answer.json()["checks"]["directory"]
            return answer.status_code, check
        finally:
            lookup.close()

    status, check = readyz(settings_of(bed.directory, url=bed.directory.ldaps_url))
    assert status == 503 and check["ok"] is False
    assert NOT_TRUSTED in str(check["detail"]) and bed.directory.ldaps_url in str(check["detail"])
    assert bed.directory.reader_password not in str(check["detail"])
    status, check = readyz(settings_of(bed.directory, url=bed.directory.ldaps_url, ca_file=bed.ca.path))
    assert status == 200 and check["ok"] is True


def test_a_sync_planning_from_an_untrusted_directory_fails_and_disables_nobody(
    bed: Bed, stack: Stack, today: dt.date, tmp_path: Path
) -> None:
    """A dry run of the session realm, reading the 20-person directory instead of its 2,000 people."""
    settings: Settings = stack.settings.model_copy(deep=True)
    settings.store.url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    migrate.upgrade(url=settings.store.url)

    def plan(directory: DirectorySettings) -> RunReport:
        settings.directory = directory
        return asyncio.run(run_sync(settings=settings, units=stack.units, day=today, dry_run=True))

    untrusted = plan(settings_of(bed.directory, url=bed.directory.ldaps_url))
    assert untrusted.status == "failed"
    assert untrusted.error is not None and NOT_TRUSTED in untrusted.error and bed.directory.ldaps_url in untrusted.error
    assert untrusted.ops == []
    # The same directory, trusted: the run plans from its 20 people (its joiners; against a realm whose accounts
    # it does not hold, its leavers too) — what a man in the middle could have fed the bridge.
    trusted = plan(settings_of(bed.directory, url=bed.directory.ldaps_url, ca_file=bed.ca.path))
    assert trusted.status == "planned" and trusted.directory_size == 20 and trusted.error is None
    joiners = {op.mail for op in trusted.ops if op.kind is OpKind.ENSURE}
    assert joiners and joiners <= {p.mail for p in bed.directory.people}
