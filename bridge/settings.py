"""Settings of the bridge, in nested groups, read from the environment (``BRIDGE_<GROUP>__<FIELD>``).

Built on first use through :func:`get_settings`, never at import time, so tests and the test bed can point the
bridge at the servers they started by overriding the environment before the first call.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class DirectorySettings(BaseModel):
    """The official mail directory (OpenLDAP here, the ministry's directory in production)."""

    url: str = "ldap://127.0.0.1:3389"
    bind_dn: str = "cn=admin,dc=vss,dc=gov,dc=vn"
    bind_password: SecretStr = SecretStr("")
    people_base: str = "ou=people,dc=vss,dc=gov,dc=vn"
    page_size: int = 1000
    #: Seconds a directory answer may serve decisions; an older one is read again, never served instead.
    lookup_cache_ttl_s: float = 60.0
    #: Most answers (e-mail addresses) the directory lookup keeps; the least recently used go first.
    lookup_cache_size: int = 50_000
    #: Connect and response timeout of one lookup search, in seconds.
    lookup_timeout_s: float = 5.0
    #: Directory connections one process's lookup keeps open at most (shared by its threads).
    lookup_connections: int = 4
    #: PEM bundle of the certificate authority that signed the directory's certificate; None: the system's
    #: trust store. ``ldaps://`` and StartTLS always verify the certificate and its host name (decision 0840).
    ca_file: Path | None = None
    #: Upgrade an ``ldap://`` connection with StartTLS before binding (a directory offering StartTLS, not ldaps).
    start_tls: bool = False

    @model_validator(mode="after")
    def _one_way_to_tls(self) -> DirectorySettings:
        """StartTLS belongs to ``ldap://``; a CA file with neither ldaps nor StartTLS would verify nothing."""
        ldaps = self.url.lower().startswith("ldaps://")
        if self.start_tls and ldaps:
            raise ValueError("directory start_tls is for ldap:// URLs; an ldaps:// URL is TLS already")
        if self.ca_file is not None and not (ldaps or self.start_tls):
            raise ValueError("directory ca_file is set but the URL is ldap:// without start_tls: nothing is verified")
        return self


class KeycloakSettings(BaseModel):
    """The Keycloak server, the managed realm and the bridge's own service-account client."""

    url: str = "http://127.0.0.1:8080"
    realm: str = "bhxh"
    client_id: str = "bhxh-bridge"
    client_secret: SecretStr = SecretStr("")
    #: Bootstrap administrator of the master realm, used only by ``bridge keycloak apply`` to create the realm.
    admin_username: str = "admin"
    admin_password: SecretStr = SecretStr("")
    config_dir: Path = PROJECT_ROOT / "keycloak-config"
    concurrency: int = 16
    verify_tls: bool = True
    #: The mail server Keycloak sends its own e-mails through (an exception account's "set your password");
    #: empty: the realm's SMTP settings are left as they are. Sender and options: realm.yaml ``smtp``.
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: SecretStr = SecretStr("")


class StoreSettings(BaseModel):
    """The bridge's own database: grants, approvals, audit ledger, run records."""

    url: str = "sqlite:///var/bridge.sqlite3"


class SyncSettings(BaseModel):
    """Safety limits of directory → Keycloak runs."""

    max_disable_count: int = 200
    max_disable_share: float = 0.05
    max_unit_disable_share: float = 0.5
    #: Reorganisation moves of one unit (sync moves, grants carried to a successor) above which the run halts.
    max_unit_reorg_moves: int = 200
    min_unit_size_for_share: int = 10
    full_every_n_runs: int = 24
    watch_interval_s: float = 60.0
    #: A run with at least this many joiners imports them with Keycloak's own federation import first
    #: (docs/decisions/0205); 0 turns bulk import off.
    bulk_import_min: int = 500
    #: … and at least this share of the directory (a federation import reads all of it).
    bulk_import_share: float = 0.2
    #: Keycloak searches in flight at once during a bulk import (the ids by unit or by page, decision 0205).
    listing_concurrency: int = 6
    #: Unit-group member listings in flight at once in a full run (each keeps one Keycloak thread and the directory
    #: busy: Keycloak checks every member against it). At 12,000 people on 2 cores, 12 listed in 18–38 % less time
    #: than 6, and 24 no faster (decision 0905).
    member_listing_concurrency: int = 12
    #: Where a run keeps the operations it applied but could not record (the store went away); the next run
    #: records them first (docs/decisions/0805). Keep it on a persistent volume.
    spool_dir: Path = Path("var/sync-spool")
    #: An incremental run reads entries modified since the high-water mark minus this many seconds (clocks of
    #: replicated directories drift; an entry read twice costs nothing: docs/decisions/0900).
    incremental_overlap_s: int = 120
    #: An incremental run reads every entry's mail (to find leavers, whose entries are gone) when the last such
    #: read is at least this old; 0: every run (decision 0903).
    presence_every_s: float = 300.0
    #: How a bulk import learns the new users' ids: ``units`` (one ``q=unit_code:`` search per unit, decision
    #: 0205) or ``pages`` (``GET users`` pages: measured slower here, decision 0902).
    bulk_ids: str = "units"


class GovernanceSettings(BaseModel):
    """Scoped administration and the bridge API (issue 4): who the IT Center is, how tokens are checked."""

    #: Unit code of the IT Center (Trung tâm CNTT và Chuyển đổi số), whose administrators act centrally.
    it_center_unit: str = "00012"
    #: Expected ``iss`` of access tokens; default: the realm URL built from the keycloak group.
    issuer: str | None = None
    #: Expected ``aud`` of access tokens (an audience mapper in the realm adds it).
    audience: str = "bhxh-bridge-api"
    #: JWKS of the realm; default: ``<issuer>/protocol/openid-connect/certs``.
    jwks_url: str | None = None
    jwks_cache_s: float = 300.0
    #: Read each token's holder from the realm (with the keycloak service-account client), so a disabled user's
    #: unexpired token is refused (docs/decisions/0800).
    check_token_holder: bool = True
    #: Database role the application connects as on PostgreSQL; migrations grant it DML, ledger INSERT only.
    db_app_role: str | None = None
    #: Optional JSON snapshot of the directory (tests, benchmarks, demo) when no LDAP adapter is wired.
    directory_snapshot: Path | None = None


class ApiSettings(BaseModel):
    """``bridge serve``: where the API listens and how many processes serve it."""

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 2
    #: Seconds an idle keep-alive connection is kept open (uvicorn's ``timeout_keep_alive``, 5 by default). It
    #: must outlast the idle expiry of every client and proxy that reuses connections (httpx: 5 s, nginx
    #: upstream: 60 s), or the server closes a connection as the client sends on it (docs/decisions/0820).
    keep_alive_s: int = 75


class WorkerSettings(BaseModel):
    """``bridge worker``: its tasks' pace, its health and metrics port, how long a shutdown may take."""

    http_host: str = "127.0.0.1"
    #: ``/healthz``, ``/readyz`` and ``/metrics`` of the worker.
    http_port: int = 9100
    scheduler_interval_s: float = 1.0
    watcher_interval_s: float = 1.0
    #: Keycloak LOGIN events copied into the store this often (the review's "unused" and "sharing" checks).
    ingest_interval_s: float = 300.0
    #: how often the administrator group (second factor, decision 0600) is made equal to the administrators table
    admin_group_interval_s: float = 60.0
    #: Queue depth and age gauges refreshed this often.
    metrics_interval_s: float = 15.0
    #: A repeating sync run holds the realm's sync lease this long, renewed while it runs (the console watcher
    #: keeps its own shorter lease, ``ConsoleWatcher.lease_s``); a lock job claimed by a worker that died is
    #: claimed again once the same time has passed.
    lease_s: float = 120.0
    #: After SIGTERM, work in hand gets this long to finish before it is cancelled (a sync run stops taking new
    #: people at once and records what it applied); with the health server's stop, within 10 s in all.
    shutdown_grace_s: float = 6.0
    #: A task that failed restarts after this wait, doubling up to the cap.
    restart_backoff_s: float = 1.0
    restart_backoff_cap_s: float = 60.0


class UiSettings(BaseModel):
    """The web console (``/ui`` of ``bridge serve``): its confidential client in the realm and its sessions."""

    #: The realm's console client (confidential; authorization code with PKCE S256).
    client_id: str = "bhxh-bridge-ui"
    #: Its secret (``BRIDGE_UI__CLIENT_SECRET``); never in the repository.
    client_secret: SecretStr = SecretStr("")
    #: The URL browsers reach ``bridge serve`` at: the redirect URI is ``{base_url}/ui/callback`` and Keycloak
    #: posts back-channel logouts to ``{base_url}/ui/backchannel-logout``.
    base_url: str = "http://127.0.0.1:8000"
    #: Key signing the session cookie (``BRIDGE_UI__SESSION_SECRET``); empty in development: one per process.
    session_secret: SecretStr = SecretStr("")
    #: A console session unused this long ends (15 minutes).
    idle_timeout_s: float = 900.0


class InitSettings(BaseModel):
    """``bridge init``: the one-shot set-up of an empty deployment (store, database roles, realm, first admin)."""

    #: Store URL of the owner role, which migrates and creates the application role; default: the store URL.
    owner_url: SecretStr | None = None
    #: Password the application role (``governance.db_app_role``) gets when ``bridge init`` creates it.
    app_role_password: SecretStr | None = None
    #: E-mail of the first IT Center administrator, appointed when there is none.
    first_admin_email: str | None = None


class ScimSettings(BaseModel):
    """SCIM 2.0 intake at /scim/v2: the audience its bearer tokens must carry (realm.yaml ``scim_clients``)."""

    audience: str = "bhxh-bridge-scim"
    #: The token claim naming the one unit an HR system's client is scoped to.
    unit_claim: str = "scim_unit"


class Settings(BaseSettings):
    """All settings of the bridge."""

    model_config = SettingsConfigDict(env_prefix="BRIDGE_", env_nested_delimiter="__", extra="ignore")

    environment: str = "development"
    log_level: str = "INFO"
    directory: DirectorySettings = Field(default_factory=DirectorySettings)
    keycloak: KeycloakSettings = Field(default_factory=KeycloakSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    sync: SyncSettings = Field(default_factory=SyncSettings)
    governance: GovernanceSettings = Field(default_factory=GovernanceSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    init: InitSettings = Field(default_factory=InitSettings)
    ui: UiSettings = Field(default_factory=UiSettings)
    scim: ScimSettings = Field(default_factory=ScimSettings)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once from the environment; ``get_settings.cache_clear()`` re-reads them."""
    return Settings()
