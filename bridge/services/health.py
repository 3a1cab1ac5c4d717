"""Liveness and readiness of a bridge process: can it reach what its decisions depend on?

``/healthz`` says the process is alive. ``/readyz`` says it can do its work: the store answers and its schema
is at the migrations' head, Keycloak issues the bridge's service account a token, and the official directory
answers a read. Each check runs with a time limit, so a hung server makes the answer red, not slow. The checks
are built from the very store, settings and directory the process decides with.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bridge.adapters.directory.ldap import LdapDirectory, ping
from bridge.adapters.directory.lookup import DirectoryLookup
from bridge.adapters.keycloak.admin import client_credentials_token
from bridge.adapters.store.migrate import head_revision, revision_of
from bridge.adapters.store.session import engine_for
from bridge.errors import TransientError
from bridge.settings import KeycloakSettings, Settings

Probe = Callable[[], str]


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


def store_probe(engine: Engine) -> Probe:
    """The store answers and is migrated to the head revision of this code."""

    def probe() -> str:
        current = revision_of(engine)
        if current != _head():
            raise TransientError(f"store at revision {current}, this code needs {_head()}: run bridge db upgrade")
        return f"revision {current}"

    return probe


def keycloak_probe(kc: KeycloakSettings) -> Probe:
    """Keycloak issues the bridge's service account a token in the managed realm."""

    def probe() -> str:
        secret = kc.client_secret.get_secret_value()
        client_credentials_token(server_url=kc.url, realm=kc.realm, client_id=kc.client_id, client_secret=secret)
        return f"realm {kc.realm}"

    return probe


def directory_probe(directory: DirectoryLookup) -> Probe:
    """The official mail directory answers a read of the people base (a snapshot is a test tool: always up)."""

    def probe() -> str:
        if not isinstance(directory, LdapDirectory):
            return f"snapshot ({type(directory).__name__})"
        ping(directory.settings)
        return directory.settings.people_base

    return probe


def standard_probes(
    settings: Settings, *, directory: DirectoryLookup, factory: sessionmaker[Session] | None = None
) -> dict[str, Probe]:
    """The three probes of a process deciding with ``directory`` on the store of ``factory`` (or settings)."""
    bind = factory.kw.get("bind") if factory is not None else None
    engine = bind if isinstance(bind, Engine) else engine_for(settings.store.url)
    return {
        "store": store_probe(engine),
        "keycloak": keycloak_probe(settings.keycloak),
        "directory": directory_probe(directory),
    }


async def _run(name: str, probe: Probe, timeout_s: float) -> Check:
    started = time.monotonic()
    try:
        detail = await asyncio.wait_for(asyncio.to_thread(probe), timeout=timeout_s)
        ok = True
    except TimeoutError:
        ok, detail = False, f"no answer within {timeout_s:.0f} s"
    except Exception as exc:  # any failure of a dependency makes the process not ready
        ok, detail = False, f"{type(exc).__name__}: {exc}"[:300]
    return Check(name, ok, detail, round((time.monotonic() - started) * 1000, 1))


async def readiness(probes: Mapping[str, Probe], *, timeout_s: float = 3.0) -> list[Check]:
    """Every dependency checked at once."""
    return list(await asyncio.gather(*(_run(name, probe, timeout_s) for name, probe in probes.items())))
