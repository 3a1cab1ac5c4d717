"""``python -m bridge.testbed.prepare``: fetch and verify Keycloak, find Java, before any test starts a server.

A missing Java or a failed download stops here with a message that says what to install.
"""

from __future__ import annotations

import sys
import time

from bridge.errors import SetupError
from bridge.testbed.java import find_java_home, java_major
from bridge.testbed.keycloak_server import KEYCLOAK_VERSION, ensure_distribution


def main() -> int:
    """Prepare the test bed; exit 3 with the reason when the machine lacks something."""
    started = time.monotonic()
    try:
        java_home = find_java_home()
        home = ensure_distribution()
    except SetupError as exc:
        print(f"setup: {exc.message}", file=sys.stderr)
        return 3
    print(
        f"setup: Keycloak {KEYCLOAK_VERSION} at {home}; Java {java_major(java_home)} at {java_home} "
        f"({time.monotonic() - started:.1f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
