"""Login, logout (RP-initiated), Keycloak's back-channel logout, and the language switch.

The callback opens a console session only for an administrator (an Administrator row); anyone else gets the
Vietnamese "not an administrator" page and no session, and a ledger row records the refused login.
"""

from __future__ import annotations

from typing import Annotated

from authlib.integrations.base_client import OAuthError
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from bridge.adapters.directory.lookup import normalise_email
from bridge.interfaces.api.deps import api_state
from bridge.interfaces.web.deps import ConsoleDep, CsrfDep, sessions_of
from bridge.interfaces.web.forms import Line
from bridge.interfaces.web.i18n import LOCALES
from bridge.interfaces.web.oidc import InvalidLogoutToken, logout_claims
from bridge.interfaces.web.render import _, render
from bridge.services.ui_views import admit_to_console

router = APIRouter()


def _urls(request: Request) -> tuple[str, str]:
    base = request.app.state.console_base_url
    return f"{base}/ui/callback", f"{base}/ui/logged-out"


@router.get("/login", name="login")
async def login(request: Request) -> Response:
    """Send the browser to Keycloak's login page (code flow, PKCE S256, state, nonce)."""
    callback, _after = _urls(request)
    response: Response = await request.app.state.oidc.authorize_redirect(request, callback)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/callback", name="callback")
async def callback(request: Request) -> Response:
    """Keycloak's answer: check state, nonce and the code; open a session for an administrator only."""
    try:
        token = await request.app.state.oidc.authorize_access_token(request)
    except OAuthError as exc:
        return render(
            request, "message.html", status_code=400, title=_("Login failed"), detail=str(exc.description or exc)
        )
    claims = token.get("userinfo") or {}
    email = normalise_email(str(claims.get("email", "")))
    if "@" not in email or not await run_in_threadpool(admit_to_console, api_state(request.app).factory, email=email):
        return render(request, "not_admin.html", status_code=403, email=email)
    made = await run_in_threadpool(
        sessions_of(request).open, email=email, keycloak_sid=claims.get("sid"), id_token=token["id_token"]
    )
    request.session.clear()
    request.session["sid"] = made.id
    return RedirectResponse("/ui/", status_code=303)


@router.post("/logout", name="logout")
async def logout(request: Request, console: ConsoleDep, _csrf: CsrfDep) -> Response:
    """End the console session here, then at Keycloak (RP-initiated logout)."""
    await run_in_threadpool(sessions_of(request).end, console.id)
    lang = request.session.get("lang")
    request.session.clear()
    if lang:
        request.session["lang"] = lang
    _callback, after = _urls(request)
    response: Response = await request.app.state.oidc.logout_redirect(
        request, post_logout_redirect_uri=after, id_token_hint=console.id_token
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/logged-out", name="logged_out")
async def logged_out(request: Request) -> HTMLResponse:
    """Where Keycloak sends the browser after logout."""
    return render(request, "message.html", title=_("You are logged out"), detail="", login_link=True)


@router.post("/backchannel-logout", name="backchannel_logout")
async def backchannel_logout(request: Request, logout_token: Annotated[Line, Form()]) -> Response:
    """Keycloak ends a session (an administrator ended it there, or it expired): end the console's too."""
    state = api_state(request.app)
    try:
        claims = await run_in_threadpool(
            logout_claims, logout_token, validator=state.validator, client_id=request.app.state.console_client_id
        )
    except InvalidLogoutToken as exc:
        return Response(str(exc), status_code=400, headers={"Cache-Control": "no-store"})
    sub_email = claims.get("email")
    await run_in_threadpool(sessions_of(request).end_keycloak_session, keycloak_sid=claims.get("sid"), email=sub_email)
    return Response(status_code=200, headers={"Cache-Control": "no-store"})


@router.get("/lang/{code}", name="language")
async def language(request: Request, code: Line, back: Line = "/ui/") -> Response:
    """Switch the console's language (vi, en) and return to the page."""
    if code in LOCALES:
        request.session["lang"] = code
    target = back if back.startswith("/ui") else "/ui/"
    return RedirectResponse(target, status_code=303)
