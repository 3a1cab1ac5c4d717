"""The console application, mounted at ``/ui`` of the API (:func:`mount_console`).

A sub-application of its own so its answers are pages, not problem documents: a refusal renders the console's
error page with the service's message (404 for a target outside the caller's scope, exactly as the API); a
request without a session goes to the login page. It shares the API's :class:`ApiState` (store, units,
catalogue, directory, token validator), so both read and decide with the same objects.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import Mount

from bridge.errors import BridgeError, ConfigError
from bridge.interfaces.api.deps import ApiState, attach_state, refuse_control_characters
from bridge.interfaces.web.deps import LoginRequired
from bridge.interfaces.web.inline import in_language
from bridge.interfaces.web.oidc import oidc_client
from bridge.interfaces.web.render import _, locale_of, render
from bridge.interfaces.web.routes import (
    approvals,
    auth,
    grants,
    ledger,
    lock_lists,
    locks,
    overview,
    people,
    placeholders,
    reports,
    review,
)
from bridge.interfaces.web.sessions import SessionStore, StoreSessions
from bridge.settings import Settings

STATIC = Path(__file__).parent / "static"
COOKIE = "bhxh_console"
#: The console's pages, in the order their routes are matched (tests walk the same tuple).
ROUTE_MODULES = (auth, overview, people, grants, locks, lock_lists, approvals, reports, review, ledger, placeholders)


def _login(request: Request, exc: Exception) -> Response:
    return RedirectResponse("/ui/login", status_code=303, headers={"Cache-Control": "no-store"})


def _refused(request: Request, exc: Exception) -> HTMLResponse:
    assert isinstance(exc, BridgeError)
    template = "not_admin.html" if exc.code == "not-administrator" else "message.html"
    title = _("Not found") if exc.status == 404 else _("Refused")
    detail = in_language(exc.message, locale_of(request))
    return render(request, template, status_code=exc.status, title=title, detail=detail, field=exc.field,
                  email=getattr(request.state, "actor", ""))  # fmt: skip


def _invalid(request: Request, exc: Exception) -> HTMLResponse:
    """A field that breaks its type (too long, a control character…): the page names each field, in the page's
    language where the rule is the bridge's own (:func:`bridge.domain.text.control_message`); the route never
    ran, so nothing was written."""
    assert isinstance(exc, RequestValidationError)
    locale, parts, fields = locale_of(request), [], []
    for error in exc.errors():
        field = str(error["loc"][-1]) if error["loc"] else ""
        cause = (error.get("ctx") or {}).get("error")
        message = in_language(str(cause), locale) if isinstance(cause, ValueError) else str(error["msg"])
        parts.append(f"«{field}»: {message}")
        fields.append(field)
    return render(request, "message.html", status_code=422, title=_("Invalid input"), detail="; ".join(parts),
                  field=", ".join(dict.fromkeys(fields)))  # fmt: skip


def _http(request: Request, exc: Exception) -> HTMLResponse:
    assert isinstance(exc, HTTPException)
    return render(request, "message.html", status_code=exc.status_code, title=_("Not found") if exc.status_code == 404
                  else _("Error"), detail=str(exc.detail))  # fmt: skip


def console_enabled(settings: Settings) -> bool:
    """The console is served in development, and elsewhere once its session key is configured."""
    return settings.environment == "development" or bool(settings.ui.session_secret.get_secret_value())


def session_secret(settings: Settings) -> str:
    """The cookie's signing key: configured, or (development only) one per process."""
    configured = settings.ui.session_secret.get_secret_value()
    if configured:
        return configured
    if settings.environment != "development":
        raise ConfigError("set BRIDGE_UI__SESSION_SECRET outside development", field="ui.session_secret")
    return secrets.token_urlsafe(32)


def console_app(state: ApiState, settings: Settings, *, sessions: SessionStore | None = None) -> FastAPI:
    """The console over ``state``: its OIDC client, its session store and its pages."""
    app = FastAPI(
        title="BHXH SSO bridge — console",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(refuse_control_characters)],
    )  # the API's rule for path and query values
    attach_state(app, state)
    app.state.console_sessions = sessions or StoreSessions(idle_s=settings.ui.idle_timeout_s, factory=state.factory)
    app.state.oidc = oidc_client(issuer=state.validator.issuer, ui=settings.ui)
    app.state.console_base_url = settings.ui.base_url.rstrip("/")
    app.state.console_client_id = settings.ui.client_id
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(settings),
        session_cookie=COOKIE,
        path="/ui",
        same_site="lax",
        https_only=settings.environment != "development",
        max_age=None,  # a browser-session cookie; the server's store decides how long a session lives
    )
    app.add_exception_handler(LoginRequired, _login)
    app.add_exception_handler(BridgeError, _refused)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(HTTPException, _http)
    for module in ROUTE_MODULES:
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def mount_console(api: FastAPI, state: ApiState, settings: Settings, *, sessions: SessionStore | None = None) -> None:
    """Serve the console at ``/ui`` of the API application."""
    api.mount("/ui", console_app(state, settings, sessions=sessions), name="ui")


def console_of(api: FastAPI) -> FastAPI:
    """The console application mounted in ``api`` (tests set its dependency overrides there)."""
    for route in api.routes:
        if isinstance(route, Mount) and route.path == "/ui" and isinstance(route.app, FastAPI):
            return route.app
    raise LookupError("the console is not mounted")
