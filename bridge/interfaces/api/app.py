"""The FastAPI application: built by :func:`create_app`, never at import time, so tests choose its store.

Errors leave as ``application/problem+json`` (RFC 9457) from one handler: a :class:`BridgeError` carries its
own status; validation errors name the offending field. A refusal's body says why, except that a target
outside the caller's scope answers exactly like a missing one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException

from bridge.adapters.directory.lookup import DirectoryLookup
from bridge.adapters.store.session import session_factory
from bridge.domain.role_levels import load_catalogue
from bridge.domain.units import load_units
from bridge.errors import BridgeError
from bridge.interfaces.api.auth import TokenValidator, Unauthenticated
from bridge.interfaces.api.deps import ApiState, attach_state, refuse_control_characters
from bridge.interfaces.api.observe import ObserveRequests
from bridge.interfaces.api.routes import approvals, audit, extractions, grants, locks, persons, reorgs, reports
from bridge.interfaces.api.routes import sync as sync_routes
from bridge.interfaces.ops import ops_router
from bridge.interfaces.scim import mount_scim
from bridge.interfaces.web.app import console_enabled, mount_console
from bridge.services.context import Refused, directory_for
from bridge.services.health import standard_probes
from bridge.settings import get_settings

PROBLEM = "application/problem+json"


def problem(status: int, code: str, detail: str, **extra: Any) -> JSONResponse:
    """An RFC 9457 problem response."""
    body = {"type": f"urn:bhxh-bridge:problem:{code}", "title": code, "status": status, "detail": detail}
    body.update({k: v for k, v in extra.items() if v is not None})
    headers = {"WWW-Authenticate": 'Bearer realm="bhxh"'} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _bridge_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BridgeError)
    rule = exc.rule if isinstance(exc, Refused) else None
    extra = getattr(exc, "extra", None) or {}
    return problem(exc.status, exc.code, exc.message, field=exc.field, rule=rule, **extra)


def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"field": ".".join(str(p) for p in e["loc"][1:]) or str(e["loc"][0]), "message": e["msg"]} for e in exc.errors()
    ]
    first = errors[0]["field"] if errors else None
    return problem(422, "invalid-input", "; ".join(f"{e['field']}: {e['message']}" for e in errors),
                   field=first, errors=errors)  # fmt: skip


def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return problem(exc.status_code, "http", str(exc.detail))


def create_app(
    *,
    factory: sessionmaker[Session] | None = None,
    directory: DirectoryLookup | None = None,
    validator: TokenValidator | None = None,
    config_dir: Path | None = None,
) -> FastAPI:
    """The API over the configured store, the official directory (or a given one) and the realm."""
    settings = get_settings()
    config = config_dir or settings.keycloak.config_dir
    if directory is None:
        directory = directory_for(settings)
    app = FastAPI(
        title="BHXH SSO bridge — governance API",
        version="0.1.0",
        description="Scoped delegated administration (Quy chế 2366 Điều 6), approvals and the audit ledger.",
        dependencies=[Depends(refuse_control_characters)],
    )
    state = ApiState(
        factory=factory or session_factory(),
        units=load_units(config / "units.yaml"),
        catalogue=load_catalogue(config / "applications.yaml"),
        directory=directory,
        validator=validator or TokenValidator.from_settings(settings),
        it_center_unit=settings.governance.it_center_unit,
    )
    attach_state(app, state)
    app.add_exception_handler(BridgeError, _bridge_error)
    app.add_exception_handler(Unauthenticated, _bridge_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    for module in (persons, grants, approvals, audit, locks, reports, extractions, reorgs, sync_routes):
        app.include_router(module.router)
    app.include_router(ops_router(standard_probes(settings, directory=directory, factory=state.factory), process="api"))
    mount_scim(app, state.validator, settings)  # /scim/v2 (docs/decisions/0700)
    if console_enabled(settings):
        mount_console(app, state, settings)
    app.add_middleware(ObserveRequests)
    return app
