"""The application catalogue (``keycloak-config/applications.yaml``): business applications and role groups.

Role groups are listed in rank order (the first is the lowest), which the scope policy uses for "nobody grants
a role at or above their own". In Keycloak a role group is the group ``/apps/<application>/<role group>``:
:func:`role_group_path` and :func:`parse_role_group_path` are the one place that path is written and read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from bridge.errors import ConfigError

#: The Keycloak group holding one group per application, each holding that application's role groups.
APPS_ROOT = "/apps"


def application_path(application: str) -> str:
    """Keycloak group path of an application, the parent of its role groups: ``/apps/<application>``. Pure."""
    return f"{APPS_ROOT}/{application}"


def role_group_path(application: str, role_group: str) -> str:
    """Keycloak group path of an application role group, ``/apps/<application>/<role group>``. Pure."""
    return f"{application_path(application)}/{role_group}"


def parse_role_group_path(path: str) -> tuple[str, str] | None:
    """``(application, role group)`` of a role-group path, or None for any other group path (the root, an
    application's own group, anything deeper). Pure."""
    prefix = APPS_ROOT + "/"
    if not path.startswith(prefix):
        return None
    application, _, role_group = path.removeprefix(prefix).partition("/")
    return (application, role_group) if application and role_group and "/" not in role_group else None


@dataclass(frozen=True)
class Application:
    """One business application (phần mềm nghiệp vụ) and its OIDC client."""

    code: str
    name: str
    client: str
    base_url: str
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...] = ()
    backchannel_logout_url: str | None = None
    role_groups: tuple[str, ...] = ()

    def group_path(self, role_group: str) -> str:
        """Keycloak group path of one of this application's role groups."""
        if role_group not in self.role_groups:
            raise ConfigError(f"application {self.code} has no role group {role_group!r}", field="role_group")
        return role_group_path(self.code, role_group)


def parse_applications(text: str, *, source: str = "applications.yaml") -> tuple[Application, ...]:
    """Parse and check the catalogue: unique codes and clients, exact (wildcard-free) redirect URIs."""
    data = yaml.safe_load(text) or {}
    apps: list[Application] = []
    problems: list[str] = []
    for index, raw in enumerate(data.get("applications", []), start=1):
        try:
            app = Application(
                code=str(raw["code"]),
                name=str(raw["name"]),
                client=str(raw["client"]),
                base_url=str(raw.get("base_url", "")),
                redirect_uris=tuple(raw["redirect_uris"]),
                post_logout_redirect_uris=tuple(raw.get("post_logout_redirect_uris", ())),
                backchannel_logout_url=raw.get("backchannel_logout_url"),
                role_groups=tuple(raw.get("role_groups", ())),
            )
        except KeyError as exc:
            problems.append(f"application #{index}: missing field {exc.args[0]}")
            continue
        if any("*" in uri for uri in app.redirect_uris):
            problems.append(f"application {app.code}: redirect URIs must be exact, no wildcard")
        if any(a.code == app.code or a.client == app.client for a in apps):
            problems.append(f"application {app.code}: duplicate code or client id")
        apps.append(app)
    if problems:
        raise ConfigError(f"{source}: " + "; ".join(problems))
    return tuple(apps)


def load_applications(path: Path) -> tuple[Application, ...]:
    """Read and check ``applications.yaml``."""
    return parse_applications(path.read_text(encoding="utf-8"), source=path.name)


def by_code(apps: tuple[Application, ...], code: str) -> Application:
    """The application with ``code``, or a :class:`ConfigError` naming it."""
    for app in apps:
        if app.code == code:
            return app
    raise ConfigError(f"unknown application {code!r}", field="application")
