"""The application catalogue (``keycloak-config/applications.yaml``) as the governance core needs it.

A grant names an application and one of its role groups; the catalogue says whether they exist and how high
the role group ranks. The top-ranked role group of an application (usually ``admin``) is
administrator-grade: only the IT Center grants it (Quy chế 2366: the IT Center grants administrator
accounts).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from bridge.errors import ConfigError, InvalidInput
from bridge.governance.policy import ADMIN_LEVEL


@dataclass(frozen=True)
class Application:
    """One business application (phần mềm nghiệp vụ) and its role groups, lowest rank first."""

    code: str
    name: str
    role_groups: tuple[str, ...]


@dataclass(frozen=True)
class Catalogue:
    """All applications, by code."""

    applications: dict[str, Application]

    def role_level(self, application: str, role_group: str) -> int:
        """1 for an ordinary role group, 2 (administrator-grade) for the top one; unknown names are 422s."""
        app = self.applications.get(application)
        if app is None:
            raise InvalidInput(f"unknown application {application!r}", field="application")
        if role_group not in app.role_groups:
            raise InvalidInput(
                f"unknown role group {role_group!r} of {application} (known: {', '.join(app.role_groups)})",
                field="role_group",
            )
        return ADMIN_LEVEL if role_group == app.role_groups[-1] else 1


def parse_catalogue(text: str) -> Catalogue:
    """Parse the catalogue's YAML text."""
    raw = yaml.safe_load(text) or {}
    apps: dict[str, Application] = {}
    for item in raw.get("applications", []):
        try:
            app = Application(
                str(item["code"]), str(item["name"]), tuple(str(g) for g in item["role_groups"])
            )
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"applications.yaml: bad entry {item!r}: {exc}") from None
        apps[app.code] = app
    return Catalogue(apps)


@lru_cache(maxsize=4)
def load_catalogue(path: Path) -> Catalogue:
    """Read ``applications.yaml`` (cached per path)."""
    return parse_catalogue(path.read_text(encoding="utf-8"))
