"""The whole local stack in one call: slapd with a generated directory, Keycloak, the realm applied.

Used by ``make demo``, the pytest fixtures and the benchmarks, so all three run the same servers the same way.
Secrets (bootstrap admin, directory reader, the bridge's client secret) are random per run and only ever
passed through the environment of the processes that need them.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from bridge.clock import today_vn
from bridge.domain.units import UnitTree, load_units
from bridge.settings import PROJECT_ROOT, DirectorySettings, KeycloakSettings, Settings, StoreSettings, UiSettings
from bridge.testbed.keycloak_server import KeycloakServer, start_keycloak
from bridge.testbed.mailbox import Mailbox
from bridge.testbed.slapd_server import PEOPLE_BASE, SlapdServer, start_slapd


@dataclass
class Stack:
    """Running servers and the settings that point the bridge at them."""

    keycloak: KeycloakServer
    slapd: SlapdServer
    settings: Settings
    units: UnitTree
    #: The SMTP server the realm sends its e-mails to (None when the stack was started without one).
    mailbox: Mailbox | None = None

    def env(self) -> dict[str, str]:
        """``BRIDGE_*`` environment variables equivalent to :attr:`settings` (for subprocesses and the CLI)."""
        s = self.settings
        return {
            "BRIDGE_KEYCLOAK__URL": s.keycloak.url,
            "BRIDGE_KEYCLOAK__ADMIN_USERNAME": s.keycloak.admin_username,
            "BRIDGE_KEYCLOAK__ADMIN_PASSWORD": s.keycloak.admin_password.get_secret_value(),
            "BRIDGE_KEYCLOAK__CLIENT_SECRET": s.keycloak.client_secret.get_secret_value(),
            "BRIDGE_DIRECTORY__URL": s.directory.url,
            "BRIDGE_DIRECTORY__BIND_DN": s.directory.bind_dn,
            "BRIDGE_DIRECTORY__BIND_PASSWORD": s.directory.bind_password.get_secret_value(),
            "BRIDGE_STORE__URL": s.store.url,
            "BRIDGE_UI__CLIENT_SECRET": s.ui.client_secret.get_secret_value(),
            "BRIDGE_KEYCLOAK__SMTP_HOST": s.keycloak.smtp_host,
            "BRIDGE_KEYCLOAK__SMTP_PORT": str(s.keycloak.smtp_port),
        }

    def close(self) -> None:
        """Stop the servers."""
        with suppress(Exception):
            self.keycloak.close()
        if self.mailbox is not None:
            with suppress(Exception):
                self.mailbox.close()
        self.slapd.close()


def settings_for(
    slapd: SlapdServer,
    keycloak: KeycloakServer,
    *,
    store_url: str,
    client_secret: str | None = None,
    mailbox: Mailbox | None = None,
) -> Settings:
    """Settings pointing the bridge at running servers, with a random bridge client secret unless given."""
    return Settings(
        directory=DirectorySettings(
            url=slapd.url,
            bind_dn=slapd.reader_dn,
            bind_password=SecretStr(slapd.reader_password),
            people_base=PEOPLE_BASE,
        ),
        keycloak=KeycloakSettings(
            url=keycloak.url,
            admin_username=keycloak.admin_username,
            admin_password=SecretStr(keycloak.admin_password),
            client_secret=SecretStr(client_secret or secrets.token_urlsafe(24)),
            smtp_host=mailbox.host if mailbox is not None else "",
            smtp_port=mailbox.port if mailbox is not None else 25,
        ),
        store=StoreSettings(url=store_url),
        ui=UiSettings(client_secret=SecretStr(secrets.token_urlsafe(24))),
    )


def start_stack(
    *, size: int = 2000, apply: bool = True, store_url: str | None = None, day: dt.date | None = None
) -> Stack:
    """Start slapd (``size`` people), an SMTP server and Keycloak, and apply keycloak-config/ to the realm."""
    units = load_units(PROJECT_ROOT / "keycloak-config" / "units.yaml")
    slapd = start_slapd(units, size=size)
    try:
        mailbox = Mailbox().start()
        keycloak = start_keycloak()
    except Exception:
        slapd.close()
        raise
    settings = settings_for(slapd, keycloak, store_url=store_url or f"sqlite:///{keycloak.workdir / 'bridge.sqlite3'}",
                            mailbox=mailbox)  # fmt: skip
    stack = Stack(keycloak=keycloak, slapd=slapd, settings=settings, units=units, mailbox=mailbox)
    if apply:
        from bridge.services.keycloak_config import apply_keycloak_config

        try:
            apply_keycloak_config(settings, day=day or today_vn())
        except Exception:
            stack.close()
            raise
    return stack


def export_env(stack: Stack, path: Path) -> None:
    """Write the stack's environment as a shell file readable only by its owner (for the demo)."""
    path.write_text("".join(f"export {k}='{v}'\n" for k, v in stack.env().items()))
    os.chmod(path, 0o600)
