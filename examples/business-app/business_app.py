"""A BHXH business application that signs staff in through the central SSO — the sample to copy.

It shows everything an application must do (docs/integrating-an-application.md): the authorization-code flow
as a confidential client with PKCE S256, state and nonce (authlib's Starlette client), ID-token validation,
roles read from the role groups in the token (``/apps/<CODE>/<role>``), RP-initiated logout, and a back-channel
logout endpoint: when Keycloak ends a person's session (a lock, a logout in another application), it POSTs a
signed logout token here and every matching local session ends at once.

Local sessions are kept on the server (an id in a signed cookie) because a session held only in a cookie cannot
be ended from the back channel. Run one instance per application::

    BUSINESS_APP_ISSUER=https://sso.example/realms/bhxh BUSINESS_APP_CODE=TST BUSINESS_APP_CLIENT_ID=tst \\
    BUSINESS_APP_CLIENT_SECRET=... BUSINESS_APP_BASE_URL=https://tst.example BUSINESS_APP_SESSION_SECRET=... \\
    uvicorn --factory business_app:app_from_env
"""

from __future__ import annotations

import html
import os
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

from authlib.integrations.starlette_client import OAuth  # type: ignore[import-untyped,unused-ignore]
from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from joserfc import jwt
from joserfc.jwk import KeySet, KeySetSerialization
from joserfc.jwt import JWTClaimsRegistry
from starlette.middleware.sessions import SessionMiddleware

LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"


@dataclass(frozen=True)
class AppConfig:
    """One application's registration in the realm (keycloak-config/applications.yaml) and where it runs."""

    issuer: str  #: https://<sso>/realms/<realm>
    code: str  #: application code, e.g. TST: its role groups are /apps/TST/<role>
    client_id: str
    client_secret: str
    base_url: str  #: e.g. https://tst.baohiemxahoi.gov.vn (callback: <base_url>/oidc/callback)
    session_secret: str
    name: str = ""

    @classmethod
    def from_env(cls) -> AppConfig:
        env = os.environ
        return cls(issuer=env["BUSINESS_APP_ISSUER"], code=env["BUSINESS_APP_CODE"],
                   client_id=env["BUSINESS_APP_CLIENT_ID"], client_secret=env["BUSINESS_APP_CLIENT_SECRET"],
                   base_url=env["BUSINESS_APP_BASE_URL"].rstrip("/"), session_secret=env["BUSINESS_APP_SESSION_SECRET"],
                   name=env.get("BUSINESS_APP_NAME", ""))  # fmt: skip


@dataclass
class Sessions:
    """Server-side sessions: local id → the person's claims, with Keycloak's ``sid`` to find them again."""

    by_id: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    logouts: list[dict[str, Any]] = field(default_factory=list)  #: valid logout tokens received (for operators)

    def start(self, claims: dict[str, Any], id_token: str) -> str:
        local = secrets.token_urlsafe(24)
        with self.lock:
            self.by_id[local] = {**claims, "id_token": id_token}
        return local

    def end(self, *, sid: str | None, sub: str | None) -> int:
        """End the sessions of Keycloak session ``sid`` (or of user ``sub`` when no sid); how many ended."""
        with self.lock:
            ended = [k for k, v in self.by_id.items() if (v.get("sid") == sid if sid else v.get("sub") == sub)]
            for key in ended:
                del self.by_id[key]
        return len(ended)


def roles_of(claims: dict[str, Any], code: str) -> list[str]:
    """The application's roles of the person: the last part of each group path ``/apps/<code>/<role>``."""
    prefix = f"/apps/{code}/"
    return sorted(g[len(prefix) :] for g in claims.get("groups", []) if g.startswith(prefix))


def validate_logout_token(token: str, *, issuer: str, client_id: str, jwks: KeySetSerialization) -> dict[str, Any]:
    """OIDC Back-Channel Logout 1.0 §2.6: signature, iss, aud, iat, the logout event, sid or sub, no nonce."""
    decoded = jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["RS256"])
    JWTClaimsRegistry(iss={"essential": True, "value": issuer}, aud={"essential": True, "value": client_id},
                      iat={"essential": True}).validate(decoded.claims)  # fmt: skip
    claims = dict(decoded.claims)
    if LOGOUT_EVENT not in (claims.get("events") or {}):
        raise ValueError("not a back-channel logout event")
    if "nonce" in claims:
        raise ValueError("a logout token must not carry a nonce")
    if not claims.get("sid") and not claims.get("sub"):
        raise ValueError("neither sid nor sub")
    return claims


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(f"<!doctype html><html lang='vi'><meta charset='utf-8'><title>{html.escape(title)}</title>"
                        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>", status_code=status)  # fmt: skip


def create_app(config: AppConfig) -> FastAPI:
    """The application: ``/`` (home), ``/operator`` (role page), login, callback, logout, back-channel logout."""
    app = FastAPI(title=config.name or config.code)
    app.state.sessions = sessions = Sessions()
    oauth = OAuth()
    oauth.register("sso", client_id=config.client_id, client_secret=config.client_secret,
                   server_metadata_url=f"{config.issuer}/.well-known/openid-configuration",
                   client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256",
                                  "token_endpoint_auth_method": "client_secret_basic"})  # fmt: skip
    # The cookie holds only the local session id and authlib's state/nonce/PKCE verifier during a login.
    app.add_middleware(SessionMiddleware, secret_key=config.session_secret, session_cookie=f"app_{config.code}",
                       same_site="lax", https_only=config.base_url.startswith("https:"))  # fmt: skip

    def current(request: Request) -> dict[str, Any] | None:
        local = request.session.get("sid")
        with sessions.lock:
            return sessions.by_id.get(local) if local else None

    @app.get("/", response_model=None)
    async def home(request: Request) -> Response:
        person = current(request)
        if person is None:
            return RedirectResponse("/login")
        roles = roles_of(person, config.code)
        who = (f"<p id='name'>{html.escape(person.get('name_vi') or person.get('name', ''))}</p>"
               f"<p id='email'>{html.escape(person.get('email', ''))}</p>"
               f"<p id='unit'>Đơn vị / unit: {html.escape(str(person.get('unit_code', '')))}</p>")  # fmt: skip
        if not roles:
            body = f"{who}<p id='refused'>Bạn chưa được cấp quyền sử dụng {config.code} / no role in {config.code}</p>"
            return _page(f"{config.code}: không có quyền", body, 403)
        body = f"{who}<p id='roles'>Vai trò / role: {html.escape(', '.join(roles))}</p><a href='/logout'>Đăng xuất</a>"
        return _page(f"{config.code} – {config.name}", body)

    @app.get("/operator", response_model=None)
    async def operator_page(request: Request) -> Response:
        person = current(request)
        if person is None:
            return RedirectResponse("/login")
        if "operator" not in roles_of(person, config.code):
            return _page("Không có quyền / forbidden", f"<p id='refused'>Cần vai trò {config.code}/operator</p>", 403)
        return _page(f"{config.code}: nghiệp vụ", "<p id='operator'>Trang dành cho cán bộ nghiệp vụ (operator)</p>")

    @app.get("/login")
    async def login(request: Request) -> RedirectResponse:
        # authlib keeps state, nonce and the PKCE verifier in the session until the callback
        redirect: RedirectResponse = await oauth.sso.authorize_redirect(request, f"{config.base_url}/oidc/callback")
        return redirect

    @app.get("/oidc/callback")
    async def callback(request: Request) -> RedirectResponse:
        token = await oauth.sso.authorize_access_token(request)  # checks state; validates the ID token and nonce
        request.session.clear()
        request.session["sid"] = sessions.start(dict(token["userinfo"]), token["id_token"])
        return RedirectResponse("/", status_code=302)

    @app.get("/logout")
    async def logout(request: Request) -> RedirectResponse:
        person = current(request)
        request.session.clear()
        if person is None:
            return RedirectResponse("/", status_code=302)
        sessions.end(sid=person.get("sid"), sub=person.get("sub"))
        redirect: RedirectResponse = await oauth.sso.logout_redirect(
            request, post_logout_redirect_uri=f"{config.base_url}/", id_token_hint=person["id_token"]
        )
        return redirect

    @app.post("/oidc/backchannel-logout")
    async def backchannel_logout(logout_token: str = Form(...)) -> Response:
        claims: dict[str, Any] | None = None
        error = ""
        for refresh in (False, True):  # the cached JWKS first; fetched again once, in case the realm rotated keys
            try:
                jwks: KeySetSerialization = await oauth.sso.fetch_jwk_set(force=refresh)
                claims = validate_logout_token(
                    logout_token, issuer=config.issuer, client_id=config.client_id, jwks=jwks
                )
                break
            except Exception as exc:  # any defect: 400, as the specification asks
                error = type(exc).__name__
        if claims is None:
            return Response(f"invalid logout token: {error}", status_code=400)
        sessions.end(sid=claims.get("sid"), sub=claims.get("sub"))
        sessions.logouts.append(claims)
        return Response(status_code=200, headers={"Cache-Control": "no-store"})

    return app


def app_from_env() -> FastAPI:
    """``uvicorn --factory business_app:app_from_env``: the configuration from ``BUSINESS_APP_*``."""
    return create_app(AppConfig.from_env())
