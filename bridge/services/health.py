"""Liveness and readiness of a bridge process: can it reach what its decisions depend on?

``/healthz`` says the process is alive. ``/readyz`` says it can do its work: the store answers and its schema
is at the migrations' head, Keycloak issues the bridge's service account a token, and the official directory
answers a read. Each check runs with a time limit, so a hung server makes the answer red, not slow.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from alembic.runtime.migration import MigrationContext

from bridge.adapters.directory.ldap import ping
from bridge.adapters.keycloak.admin import client_credentials_token
from bridge.adapters.store.migrate import head_revision
from bridge.adapters.store.session import engine_for
from bridge.errors import TransientError
from bridge.settings import Settings


@dataclass(frozen=True)
class Check:
    """One dependency's answer."""

    name: str
    ok: bool
    detail: str
    ms: float


@lru_cache(maxsize=1)
def _head() -> str | None:
    return head_revision()


def check_store(settings: Settings) -> str:
    """The store answers and is migrated to the head revision of this code."""
    with engine_for(settings.store.url).connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    if current != _head():
        raise TransientError(f"store at revision {current}, this code needs {_head()}: run bridge db upgrade")
    return f"revision {current}"


def check_keycloak(settings: Settings) -> str:
    """Keycloak issues the bridge's service account a token in the managed realm."""
    kc = settings.keycloak
    client_credentials_token(
        server_url=kc.url, realm=kc.realm, client_id=kc.client_id, client_secret=kc.client_secret.get_secret_value()
    )
    return f"realm {kc.realm}"


def check_directory(settings: Settings) -> str:
    """The official mail directory answers a read of the people base."""
    ping(settings.directory)
    return settings.directory.people_base


CHECKS: dict[str, Callable[[Settings], str]] = {
    "store": check_store,
    "keycloak": check_keycloak,
    "directory": check_directory,
}


async def _run(name: str, check: Callable[[Settings], str], settings: Settings, timeout_s: float) -> Check:
    started = time.monotonic()
    try:
        detail = await asyncio.wait_for(asyncio.to_thread(check, settings), timeout=timeout_s)
        ok = True
    except TimeoutError:
        ok, detail = False, f"no answer within {timeout_s:.0f} s"
    except Exception as exc:  # any failure of a dependency makes the process not ready
        ok, detail = False, f"{type(exc).__name__}: {exc}"[:300]
    return Check(name, ok, detail, round((time.monotonic() - started) * 1000, 1))


async def readiness(settings: Settings, *, timeout_s: float = 3.0) -> list[Check]:
    """Every dependency checked at once."""
    return list(await asyncio.gather(*(_run(n, c, settings, timeout_s) for n, c in CHECKS.items())))
