"""The application catalogue (``keycloak-config/applications.yaml``): business applications and role groups.

Role groups are listed in rank order (the first is the lowest), which the scope policy uses for "nobody grants
a role at or above their own".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from bridge.errors import ConfigError

APPS_ROOT = "/apps"


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
        return f"{APPS_ROOT}/{self.code}/{role_group}"


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
