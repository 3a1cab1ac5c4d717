"""The application catalogue as the scope policy needs it: which role groups exist and how high they rank.

Built on :mod:`bridge.domain.catalogue` (``keycloak-config/applications.yaml``). A grant names an application and one
of its role groups; the top-ranked role group of an application (usually ``admin``) is administrator-grade:
only the IT Center grants it (Quy chế 2366 Điều 6: the IT Center grants administrator accounts).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from bridge.domain.catalogue import Application, load_applications
from bridge.domain.policy import ADMIN_LEVEL
from bridge.errors import InvalidInput


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

    def role_groups_below(self, level: int) -> list[tuple[str, str]]:
        """``(application, role group)`` of every role group ranked below ``level``: what an administrator of
        that level may grant without escalating (R10), in catalogue order."""
        return [
            (code, role_group)
            for code, app in self.applications.items()
            for role_group in app.role_groups
            if self.role_level(code, role_group) < level
        ]


@lru_cache(maxsize=4)
def load_catalogue(path: Path) -> Catalogue:
    """Read ``applications.yaml`` (cached per path)."""
    return Catalogue({app.code: app for app in load_applications(path)})
