"""The console as the UI benchmark serves it: ``bridge serve``'s application over the benchmark's store and the
test bed's slapd, its sessions in the store (``console_sessions``, as deployed), so several workers serve them.

``bench/ui.py`` opens the administrators' sessions in the store before the server starts (:func:`open_sessions`,
as the OIDC callback would) and signs their ids into cookies with ``BRIDGE_UI__SESSION_SECRET``.
``/bench/baseline`` is the same-run baseline: a page through the same application and middleware with no
session, store or directory work. Started with ``uvicorn --factory ui_server:create --workers N``.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from itsdangerous import TimestampSigner
from sqlalchemy.orm import sessionmaker

from bridge.adapters.store.session import make_engine
from bridge.interfaces.api.app import create_app
from bridge.interfaces.api.auth import TokenValidator
from bridge.interfaces.web.app import console_of
from bridge.interfaces.web.sessions import StoreSessions

ROOT = Path(__file__).resolve().parent.parent


def open_sessions(store_url: str, admins: list[str], secret: str) -> list[tuple[str, str]]:
    """Console sessions of ``admins`` in the store, and their signed cookies (``email``, cookie)."""
    sessions = StoreSessions(idle_s=3600, factory=sessionmaker(make_engine(store_url), expire_on_commit=False))
    signer = TimestampSigner(secret)
    cookies = []
    for email in admins:
        made = sessions.open(email=email, keycloak_sid=f"bench-{email}", id_token="not-used")  # noqa: S106
        payload = base64.b64encode(json.dumps({"sid": made.id}).encode())
        cookies.append((email, signer.sign(payload).decode()))
    return cookies


def create() -> FastAPI:
    """The API and console over the benchmark's store (``BENCH_UI_STORE``)."""
    factory = sessionmaker(make_engine(os.environ["BENCH_UI_STORE"]), expire_on_commit=False)
    issuer = "http://127.0.0.1:9/realms/bhxh"  # no token is validated: the console runs on its own sessions
    validator = TokenValidator(issuer=issuer, audience="bhxh-bridge-api", jwks_url=f"{issuer}/certs")
    app = create_app(factory=factory, validator=validator, config_dir=ROOT / "keycloak-config")
    ui = console_of(app)

    @ui.get("/bench/baseline", include_in_schema=False)
    def baseline() -> HTMLResponse:
        return HTMLResponse("<!doctype html><title>baseline</title><p>ok</p>")

    return app
