"""The directory's TLS settings refuse the combinations that would verify nothing (decision 0840). Pure; the
certificate checks themselves are tested on a real slapd (tests/integration/test_directory_tls.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bridge.settings import DirectorySettings, Settings


def test_start_tls_on_an_ldaps_url_is_refused() -> None:
    with pytest.raises(ValidationError, match="start_tls is for ldap://"):
        DirectorySettings(url="ldaps://directory.vss.gov.vn", start_tls=True)


def test_a_ca_file_on_plain_ldap_is_refused_since_nothing_would_be_verified() -> None:
    with pytest.raises(ValidationError, match="nothing is verified"):
        DirectorySettings(url="ldap://directory.vss.gov.vn", ca_file=Path("/etc/ssl/ca.pem"))


def test_the_accepted_combinations_and_the_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    assert DirectorySettings(url="ldaps://d.vss.gov.vn", ca_file=Path("/ca.pem")).ca_file == Path("/ca.pem")
    assert DirectorySettings(url="ldap://d.vss.gov.vn", start_tls=True).start_tls
    assert DirectorySettings().ca_file is None and DirectorySettings().start_tls is False
    monkeypatch.setenv("BRIDGE_DIRECTORY__URL", "ldap://d.vss.gov.vn")
    monkeypatch.setenv("BRIDGE_DIRECTORY__START_TLS", "true")
    monkeypatch.setenv("BRIDGE_DIRECTORY__CA_FILE", "/run/secrets/directory-ca.pem")
    directory = Settings().directory
    assert directory.start_tls and directory.ca_file == Path("/run/secrets/directory-ca.pem")
