"""The ``/scim/v2`` routes and their error bodies.

Authentication: a bearer token of the realm whose audience is the SCIM audience (``scim.audience``) and which
carries the client's one unit (``scim.unit_claim``), validated like the API's tokens (RS256, issuer, expiry,
the realm's JWKS). The caller acts as the HR-system actor of the scope policy. Transactions and refusal rows
are the API's (``SessionDep``): a refused PATCH leaves one ``refused`` ledger row and nothing else.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError
from scim2_models import (
    URN,
    Context,
    Error,
    ListResponse,
    PatchOp,
    ResourceType,
    ResponseParameters,
    Schema,
    SCIMException,
    SearchRequest,
)
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from bridge.domain.policy import Actor
from bridge.domain.text import clean_text
from bridge.errors import BridgeError, InvalidInput
from bridge.interfaces.api.auth import TokenValidator, Unauthenticated
from bridge.interfaces.api.deps import ContextDep, SessionDep
from bridge.interfaces.scim.resources import (
    LOCK_SCHEMA,
    MAX_RESULTS,
    ScimUser,
    lock_request,
    resource_types,
    schemas,
    service_provider_config,
    to_resource,
)
from bridge.services import scim_intake
from bridge.services.context import GovContext
from bridge.settings import Settings

PREFIX = "/scim/v2"
SCIM_JSON = "application/scim+json"
router = APIRouter(prefix=PREFIX, tags=["scim"])
_bearer = HTTPBearer(auto_error=False)


def scim_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A SCIM JSON response."""
    import json

    return Response(json.dumps(body, ensure_ascii=False), status_code=status, media_type=SCIM_JSON, headers=headers)


def scim_error(status: int, detail: str, scim_type: str | None = None) -> Response:
    """A SCIM error body (RFC 7644 §3.12)."""
    body = Error(status=status, detail=detail, scim_type=scim_type).model_dump()
    headers = {"WWW-Authenticate": 'Bearer realm="bhxh"'} if status == 401 else None
    return scim_response(body, status, headers)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + PREFIX


async def get_client(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> tuple[str, str]:
    """The HR system's client id and unit from a valid SCIM token (401 otherwise)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("a Bearer access token of an HR system's client is required")
    validator: TokenValidator = request.app.state.scim_validator
    claims = await run_in_threadpool(validator.claims, credentials.credentials)
    client_id = claims.get("azp") or claims.get("client_id")
    unit = claims.get(request.app.state.scim_unit_claim)
    if not isinstance(client_id, str) or not isinstance(unit, str) or not unit:
        raise Unauthenticated("the token names no HR system's client and unit (claims azp and scim_unit)")
    request.state.actor = f"scim:{client_id}"
    return client_id, unit


ClientDep = Annotated[tuple[str, str], Depends(get_client)]


def _actor(ctx: GovContext, client: tuple[str, str]) -> Actor:
    return scim_intake.client_actor(ctx, client_id=client[0], unit_code=client[1])


@router.get("/ServiceProviderConfig")
def get_service_provider_config(request: Request) -> Response:
    return scim_response(service_provider_config(_base(request)).model_dump())


@router.get("/ResourceTypes")
def list_resource_types(request: Request) -> Response:
    found = resource_types(_base(request))
    listed = ListResponse[ResourceType](
        total_results=len(found), start_index=1, items_per_page=len(found), resources=found
    )
    return scim_response(listed.model_dump())


@router.get("/ResourceTypes/{name}")
def get_resource_type(request: Request, name: str) -> Response:
    for found in resource_types(_base(request)):
        if found.id == name:
            return scim_response(found.model_dump())
    return scim_error(404, f"no resource type {name}")


@router.get("/Schemas")
def list_schemas(request: Request) -> Response:
    found = schemas(_base(request))
    listed = ListResponse[Schema](total_results=len(found), start_index=1, items_per_page=len(found), resources=found)
    return scim_response(listed.model_dump())


@router.get("/Schemas/{schema_id}")
def get_schema(request: Request, schema_id: str) -> Response:
    for found in schemas(_base(request)):
        if found.id == schema_id:
            return scim_response(found.model_dump())
    return scim_error(404, f"no schema {schema_id}")


def _user_name_filter(text: str) -> str:
    """The value of ``userName eq "…"``, the one filter the intake supports (400 invalidFilter otherwise)."""
    parts = text.strip().split(None, 2)
    if len(parts) != 3 or parts[0].lower() != "username" or parts[1].lower() != "eq":
        raise ScimRefusal(400, f"only the filter 'userName eq \"…\"' is supported, not {text!r}", "invalidFilter")
    value = parts[2].strip()
    if len(value) < 2 or value[0] != '"' or value[-1] != '"':
        raise ScimRefusal(400, f"the userName filter's value must be a quoted string: {text!r}", "invalidFilter")
    return value[1:-1]


class ScimRefusal(InvalidInput):
    """A request the SCIM layer itself refuses, with its SCIM status and ``scimType``."""

    def __init__(self, status: int, message: str, scim_type: str | None = None) -> None:
        super().__init__(message, field="scim")
        self.status = status
        self.scim_type = scim_type


Attributes = Annotated[str | None, Query(max_length=400)]


def _response_parameters(attributes: str | None, excluded: str | None) -> ResponseParameters[Any]:
    """``attributes`` / ``excludedAttributes`` (RFC 7644 §3.9), comma-separated."""
    try:
        return ResponseParameters.model_validate({"attributes": attributes, "excludedAttributes": excluded})
    except ValidationError as exc:
        raise ScimRefusal(400, f"invalid attributes: {exc.errors()[0].get('msg')}", "invalidValue") from None


def _listed(
    request: Request, session: SessionDep, ctx: ContextDep, client: ClientDep, *, filter: str | None,
    start_index: int, count: int, params: ResponseParameters[Any],
) -> Response:  # fmt: skip
    user_name = _user_name_filter(filter) if filter else None
    start, count = max(start_index, 1), min(max(count, 0), MAX_RESULTS)
    total, page = scim_intake.search_users(session, ctx=ctx, actor=_actor(ctx, client), user_name=user_name,
                                           start=start, count=count)  # fmt: skip
    base = _base(request)
    listed = ListResponse[ScimUser](total_results=total, start_index=start, items_per_page=len(page),
                                    resources=[to_resource(p, base) for p in page])  # fmt: skip
    return scim_response(listed.model_dump(scim_ctx=Context.SEARCH_RESPONSE, response_parameters=params))


@router.get("/Users")
def list_users(
    request: Request, session: SessionDep, ctx: ContextDep, client: ClientDep,
    filter: Annotated[str | None, Query(max_length=400)] = None,
    start_index: Annotated[int, Query(alias="startIndex")] = 1,
    count: Annotated[int, Query()] = 100,
    attributes: Attributes = None,
    excluded_attributes: Annotated[str | None, Query(alias="excludedAttributes", max_length=400)] = None,
) -> Response:  # fmt: skip
    params = _response_parameters(attributes, excluded_attributes)
    return _listed(request, session, ctx, client, filter=filter, start_index=start_index, count=count, params=params)


@router.post("/.search")
@router.post("/Users/.search")
def search_users(
    request: Request, session: SessionDep, ctx: ContextDep, client: ClientDep,
    body: Annotated[dict[str, Any], Body()],
) -> Response:  # fmt: skip
    """The same listing as ``GET /Users``, its parameters in a SearchRequest body (RFC 7644 §3.4.3); at the
    root too, Users being the only resource type."""
    search = _parse(SearchRequest, body, Context.SEARCH_REQUEST)
    params = ResponseParameters(attributes=search.attributes, excluded_attributes=search.excluded_attributes)
    return _listed(request, session, ctx, client, filter=str(search.filter) if search.filter else None,
                   start_index=search.start_index or 1, count=search.count if search.count is not None else 100,
                   params=params)  # fmt: skip


@router.get("/Users/{user_id}")
def get_user(
    request: Request, session: SessionDep, ctx: ContextDep, client: ClientDep, user_id: str,
    attributes: Attributes = None,
    excluded_attributes: Annotated[str | None, Query(alias="excludedAttributes", max_length=400)] = None,
) -> Response:  # fmt: skip
    params = _response_parameters(attributes, excluded_attributes)
    found = scim_intake.get_user(session, ctx=ctx, actor=_actor(ctx, client), email=user_id)
    resource = to_resource(found, _base(request))
    return scim_response(resource.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE, response_parameters=params))


@router.post("/Users")
def create_user(
    session: SessionDep, ctx: ContextDep, client: ClientDep, body: Annotated[dict[str, Any], Body()]
) -> Response:
    """People come from the official directory: a known person in scope is a uniqueness conflict, anyone else
    is refused (the HR system reports decisions with PATCH, the directory creates people)."""
    user = _parse(ScimUser, body, Context.RESOURCE_CREATION_REQUEST)
    actor = _actor(ctx, client)
    total, _ = scim_intake.search_users(session, ctx=ctx, actor=actor, user_name=user.user_name or "", start=1,
                                        count=1)  # fmt: skip
    if total:
        raise ScimRefusal(409, f"{user.user_name} is already provisioned from the official directory", "uniqueness")
    raise ScimRefusal(400, f"{user.user_name} is not in the official directory within your scope: people are "
                      "created by the directory, not by SCIM", "invalidValue")  # fmt: skip


def _clean(value: Any, where: str = "body") -> Any:
    """The body with every string (keys too) under the API's one rule for outside text
    (:func:`bridge.domain.text.clean_text`: NFC, no control character but tab and line breaks, no lone
    surrogate); a refused string is a 400 naming where it is (issue 17)."""
    if isinstance(value, str):
        try:
            return clean_text(value)
        except ValueError as exc:
            raise ScimRefusal(400, f"{where}: {exc}", "invalidValue") from None
    if isinstance(value, dict):
        return {_clean(k, where): _clean(v, f"{where}.{k}"[:200]) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def _parse(model: Any, body: dict[str, Any], ctx: Context) -> Any:
    body = _clean(body)
    try:
        return model.model_validate(body, scim_ctx=ctx)
    except ValidationError as exc:
        raise ScimRefusal(400, f"invalid SCIM body: {exc.errors()[0].get('msg')}", "invalidValue") from None


def _apply_active(request: Request, session: SessionDep, ctx: ContextDep, client: ClientDep, user_id: str,
                  target: Any, before: scim_intake.ScimPerson) -> Response:  # fmt: skip
    actor = _actor(ctx, client)
    if target.active is None or target.active == before.active:
        found = before
    else:
        try:
            lock = lock_request(target)
        except ValueError as exc:
            raise ScimRefusal(400, str(exc), "invalidValue") from None
        found = scim_intake.set_active(session, ctx=ctx, actor=actor, email=user_id, active=target.active, lock=lock)
    return scim_response(to_resource(found, _base(request)).model_dump(scim_ctx=Context.RESOURCE_REPLACEMENT_RESPONSE))


@router.patch("/Users/{user_id}")
def patch_user(
    request: Request, session: SessionDep, ctx: ContextDep, client: ClientDep, user_id: str,
    body: Annotated[dict[str, Any], Body()],
) -> Response:  # fmt: skip
    """``active=false`` records a lock decision (reason and dates from the lock extension), ``active=true`` ends
    the open temporary lock early; the other attributes belong to the directory and are not changed."""
    before = scim_intake.get_user(session, ctx=ctx, actor=_actor(ctx, client), email=user_id)
    patch = _parse(PatchOp[ScimUser], body, Context.RESOURCE_PATCH_REQUEST)
    target = to_resource(before, _base(request))
    try:
        patch.patch(target)
    except (SCIMException, ValueError, ValidationError) as exc:
        raise ScimRefusal(400, f"cannot apply the patch: {exc}", "invalidPath") from None
    return _apply_active(request, session, ctx, client, user_id, target, before)


@router.put("/Users/{user_id}")
def replace_user(
    request: Request, session: SessionDep, ctx: ContextDep, client: ClientDep, user_id: str,
    body: Annotated[dict[str, Any], Body()],
) -> Response:  # fmt: skip
    """Like PATCH for ``active``; userName, name and department are the directory's and stay as they are."""
    before = scim_intake.get_user(session, ctx=ctx, actor=_actor(ctx, client), email=user_id)
    target = _parse(ScimUser, body, Context.RESOURCE_REPLACEMENT_REQUEST)
    return _apply_active(request, session, ctx, client, user_id, target, before)


@router.delete("/Users/{user_id}")
def delete_user(session: SessionDep, ctx: ContextDep, client: ClientDep, user_id: str) -> Response:
    """Nobody is deleted (a leaver is locked): 405 for a person in scope, 404 for anyone else."""
    scim_intake.get_user(session, ctx=ctx, actor=_actor(ctx, client), email=user_id)
    raise ScimRefusal(405, "accounts are never deleted: send PATCH active=false with the lock decision")


_SCIM_TYPE = {409: "uniqueness", 400: "invalidValue", 422: "invalidValue"}


def _error_of(exc: Exception, request: Request) -> Response:
    if isinstance(exc, ScimRefusal):
        return scim_error(exc.status, exc.message, exc.scim_type)
    if isinstance(exc, BridgeError):
        status = 400 if exc.status == 422 else exc.status
        field = f" ({exc.field})" if exc.field else ""
        return scim_error(status, f"{exc.message}{field}", _SCIM_TYPE.get(exc.status))
    if isinstance(exc, RequestValidationError):
        errors = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        return scim_error(400, errors or "invalid request", "invalidSyntax")
    if isinstance(exc, HTTPException):  # no such route or method: say which (a bare "Not Found" names nothing)
        return scim_error(exc.status_code, f"{exc.detail}: {request.method} {request.url.path[:200]}")
    return scim_error(500, "internal error")


Handler = Callable[[Request, Exception], Response | Awaitable[Response]]


def _scim_aware(handler: Handler) -> Handler:
    async def handle(request: Request, exc: Exception) -> Response:
        if request.url.path == PREFIX or request.url.path.startswith(PREFIX + "/"):
            return _error_of(exc, request)
        answer = handler(request, exc)
        return await answer if isinstance(answer, Awaitable) else answer

    return handle


def mount_scim(app: FastAPI, api_validator: TokenValidator, settings: Settings) -> None:
    """Add ``/scim/v2`` to ``app``: its routes, its token validator (the API's issuer and JWKS, the SCIM
    audience) and SCIM error bodies for every error under the prefix. Call after the app's own handlers."""
    app.state.scim_validator = TokenValidator(
        issuer=api_validator.issuer, audience=settings.scim.audience, jwks_url=api_validator.jwks_url,
        cache_s=api_validator.cache_s, verify=api_validator.verify,
    )  # fmt: skip
    app.state.scim_unit_claim = settings.scim.unit_claim
    app.include_router(router)
    for kind, handler in list(app.exception_handlers.items()):
        app.exception_handlers[kind] = _scim_aware(handler)


__all__ = ["LOCK_SCHEMA", "URN", "mount_scim"]
