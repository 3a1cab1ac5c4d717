"""The console as the UI benchmark serves it: ``bridge serve``'s application over the benchmark's store and the
test bed's slapd, with the benchmark's administrators' console sessions opened at start.

Sessions are opened as the non-browser tests open them (tests/governance/test_console_web.py): in the console's
server-side store, the session id in a cookie signed with ``BRIDGE_UI__SESSION_SECRET`` — what the OIDC
callback leaves. The cookies are written to ``BENCH_UI_COOKIES`` (one ``email<TAB>cookie`` a line) for the load
generator. ``/bench/baseline`` is the same-run baseline: a page through the same application and middleware
with no session, store or directory work. Started by ``bench/ui.py`` with ``uvicorn --factory ui_server:create``.
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
from bridge.interfaces.web.sessions import SessionStore
from bridge.settings import get_settings

ROOT = Path(__file__).resolve().parent.parent


def create() -> FastAPI:
    """The API and console over the benchmark's store; sessions for ``BENCH_UI_ADMINS``."""
    settings = get_settings()
    factory = sessionmaker(make_engine(os.environ["BENCH_UI_STORE"]), expire_on_commit=False)
    issuer = "http://127.0.0.1:9/realms/bhxh"  # no token is validated: the console runs on its own sessions
    validator = TokenValidator(issuer=issuer, audience="bhxh-bridge-api", jwks_url=f"{issuer}/certs")
    app = create_app(factory=factory, validator=validator, config_dir=ROOT / "keycloak-config")
    ui = console_of(app)
    sessions = SessionStore(idle_s=3600)
    ui.state.console_sessions = sessions
    signer = TimestampSigner(settings.ui.session_secret.get_secret_value())
    lines = []
    for email in os.environ["BENCH_UI_ADMINS"].split(","):
        made = sessions.open(email=email, keycloak_sid=f"bench-{email}", id_token="not-used")  # noqa: S106
        payload = base64.b64encode(json.dumps({"sid": made.id}).encode())
        lines.append(f"{email}\t{signer.sign(payload).decode()}")
    Path(os.environ["BENCH_UI_COOKIES"]).write_text("\n".join(lines) + "\n")

    @ui.get("/bench/baseline", include_in_schema=False)
    def baseline() -> HTMLResponse:
        return HTMLResponse("<!doctype html><title>baseline</title><p>ok</p>")

    return app
