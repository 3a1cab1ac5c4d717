"""docker-compose.yml and .env.example as the tests read them: services, environments, compose's interpolation.

Used by tests/unit/test_compose.py (the file checked against the code) and by the tests that run a service's
exact command and environment on this machine, with only host names replaced (:func:`resolved_env`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml

from bridge.settings import PROJECT_ROOT

COMPOSE_PATH = PROJECT_ROOT / "docker-compose.yml"
ENV_EXAMPLE = PROJECT_ROOT / ".env.example"
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_PATH.read_text(encoding="utf-8"))
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]

#: ``${NAME}``, ``${NAME:-default}``, ``${NAME:?message}`` (``$${…}`` is a literal dollar for the container).
VARIABLE = re.compile(r"(?<!\$)\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")
#: A value that must come from .env: ``${NAME:?message}`` and nothing else.
REQUIRED = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*:\?[^}]+\}$")


def service_env(service: str) -> dict[str, str]:
    """The ``environment`` mapping of a service, uninterpolated."""
    environment = SERVICES[service].get("environment", {})
    assert isinstance(environment, dict), f"{service}: environment as a mapping"
    return {str(k): str(v) for k, v in environment.items()}


def env_example() -> dict[str, str]:
    """The variables of .env.example and their example values; each must have a comment above it."""
    values: dict[str, str] = {}
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        if not line.strip() or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[A-Z_][A-Z0-9_]*", name), f".env.example line {number + 1}: {line!r}"
        assert lines[number - 1].startswith("#"), f".env.example: {name} has no comment above it"
        values[name] = value
    return values


def filled_env(secrets: Mapping[str, str] | None = None) -> dict[str, str]:
    """.env.example as an operator fills it: ``secrets`` where given, a made-up value for other empty ones."""
    given = dict(secrets or {})
    return {name: given.get(name) or value or f"{name.lower()}-Xy7" for name, value in env_example().items()}


def resolve(value: str, env: Mapping[str, str]) -> str:
    """Compose's interpolation of ``value`` with ``env``; a missing required variable fails the test."""

    def one(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        found = env.get(name, "")
        if op in (":?", "?"):
            assert found, f"{name} is required: {arg}"
        if op in (":-", "-") and not found:
            return arg
        return found

    return VARIABLE.sub(one, value).replace("$$", "$")


def resolved_env(service: str, env: Mapping[str, str], hosts: Mapping[str, str] | None = None) -> dict[str, str]:
    """A service's environment as compose would pass it, with ``hosts`` replaced (``"postgres:5432"`` →
    ``"127.0.0.1:54321"``) so that its command can run on this machine."""
    resolved = {}
    for name, value in service_env(service).items():
        text = resolve(value, env)
        for compose_host, here in (hosts or {}).items():
            text = text.replace(f"//{compose_host}", f"//{here}").replace(f"@{compose_host}", f"@{here}")
        resolved[name] = text
    return resolved
