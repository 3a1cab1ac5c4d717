"""The sample business application (examples/business-app/) running as real applications of the realm.

The browser tests, the login benchmark and ``make demo`` run two instances (TST and TNHS by default) on free
127.0.0.1 ports. The realm's clients of those applications must accept their loopback callbacks, so
:func:`local_config_dir` writes a copy of keycloak-config/ in which each application's redirect and post-logout
URIs gain the instance's and its back-channel logout URL points at the instance; ``bridge keycloak apply`` with
that copy converges the realm, and applying the original again (:func:`business_apps`' exit) restores it.
The example is loaded from its file: it does not import the bridge, as an application team's copy would not.
"""

from __future__ import annotations

import importlib.util
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import uvicorn
import yaml

from bridge.adapters.keycloak.admin import KeycloakAdmin
from bridge.clock import today_vn
from bridge.services.keycloak_config import apply_keycloak_config, bootstrap_admin
from bridge.settings import PROJECT_ROOT, Settings
from bridge.testbed.ports import free_port

EXAMPLE = PROJECT_ROOT / "examples" / "business-app" / "business_app.py"


def load_example() -> ModuleType:
    """The example module, imported from its file once (``business_app``)."""
    if "business_app" in sys.modules:
        return sys.modules["business_app"]
    spec = importlib.util.spec_from_file_location("business_app", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["business_app"] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class BusinessApp:
    """One running instance: its application code, URL and the FastAPI app (its sessions are inspectable)."""

    code: str
    client_id: str
    url: str
    app: Any
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def sessions(self) -> Any:
        """The instance's server-side sessions (``by_id``, ``logouts``)."""
        return self.app.state.sessions


def local_config_dir(source: Path, target: Path, urls: dict[str, str]) -> Path:
    """A copy of keycloak-config/ where application ``code``'s client also accepts ``urls[code]``'s callbacks."""
    target.mkdir(parents=True, exist_ok=True)
    for item in source.iterdir():
        if item.is_file():
            shutil.copyfile(item, target / item.name)
    catalogue = yaml.safe_load((source / "applications.yaml").read_text(encoding="utf-8"))
    for app in catalogue["applications"]:
        base = urls.get(app["code"])
        if base:
            app["redirect_uris"] = [*app["redirect_uris"], f"{base}/oidc/callback"]
            app["post_logout_redirect_uris"] = [*app["post_logout_redirect_uris"], f"{base}/"]
            app["backchannel_logout_url"] = f"{base}/oidc/backchannel-logout"
    (target / "applications.yaml").write_text(yaml.safe_dump(catalogue, allow_unicode=True, sort_keys=False))
    return target


def _serve(app: Any, port: int) -> tuple[uvicorn.Server, threading.Thread]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"the sample application did not start on port {port}")
        time.sleep(0.05)
    return server, thread


def client_secret(admin: KeycloakAdmin, client_id: str) -> str:
    """The confidential client's secret, as an application team receives it from the realm's operators."""
    client = admin.get("clients", clientId=client_id)[0]
    return str(admin.get(f"clients/{client['id']}/client-secret")["value"])


@contextmanager
def business_apps(settings: Settings, *, codes: tuple[str, ...] = ("TST", "TNHS")) -> Iterator[dict[str, BusinessApp]]:
    """Run the sample application once per code, registered in the realm; the realm is restored on exit."""
    example = load_example()
    catalogue = yaml.safe_load((settings.keycloak.config_dir / "applications.yaml").read_text(encoding="utf-8"))
    clients = {a["code"]: (a["client"], a["name"]) for a in catalogue["applications"]}
    ports = {code: free_port() for code in codes}
    urls = {code: f"http://127.0.0.1:{port}" for code, port in ports.items()}
    work = Path(tempfile.mkdtemp(prefix="bhxh-apps-"))
    config_dir = local_config_dir(settings.keycloak.config_dir, work / "keycloak-config", urls)
    local = settings.model_copy(update={"keycloak": settings.keycloak.model_copy(update={"config_dir": config_dir})})
    apply_keycloak_config(local, day=today_vn())
    admin = bootstrap_admin(settings, settings.keycloak.realm)
    issuer = f"{settings.keycloak.url}/realms/{settings.keycloak.realm}"
    running: dict[str, BusinessApp] = {}
    try:
        for code in codes:
            client_id, name = clients[code]
            config = example.AppConfig(issuer=issuer, code=code, client_id=client_id,
                                       client_secret=client_secret(admin, client_id), base_url=urls[code],
                                       session_secret=secrets.token_urlsafe(32), name=name)  # fmt: skip
            app = example.create_app(config)
            server, thread = _serve(app, ports[code])
            running[code] = BusinessApp(code, client_id, urls[code], app, server, thread)
        for instance in running.values():
            assert httpx.get(f"{instance.url}/docs", timeout=10).status_code == 200
        yield running
    finally:
        for instance in running.values():
            instance.server.should_exit = True
            instance.thread.join(timeout=10)
        apply_keycloak_config(settings, day=today_vn())
        shutil.rmtree(work, ignore_errors=True)
