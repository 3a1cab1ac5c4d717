"""The only module that imports python-keycloak: admin REST access to one realm, sync and async.

Everything above this module speaks plain JSON paths and the bridge's own errors: a 409 becomes
:class:`Conflict` (the caller looks the object up), 404 :class:`NotFound`, 5xx and connection failures
:class:`TransientError` (retry), any other refusal :class:`PermanentError`. Token refresh under concurrency is
serialised by one lock, so fifty coroutines hitting an expired token refresh it once.
"""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass, field
from typing import Any

import httpx
from keycloak import KeycloakOpenID, KeycloakOpenIDConnection
from keycloak.exceptions import KeycloakConnectionError, KeycloakError

from bridge.errors import Conflict, NotFound, PermanentError, TransientError
from bridge.settings import KeycloakSettings


class UnreadableAnswer(PermanentError):
    """Keycloak answered with a body that is not JSON (it broke off a user search mid-answer on a directory
    entry holding a 10 kB name, issue 17). A caller that has another way to the same answer may take it."""


@dataclass
class CallCounter:
    """Admin REST calls made, split into reads and writes (the benchmarks report both)."""

    reads: int = 0
    writes: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)

    def count(self, method: str, path: str) -> None:
        if method == "GET":
            self.reads += 1
        else:
            self.writes += 1
        kind = f"{method} {path.split('?')[0].split('/')[0]}"
        self.by_kind[kind] = self.by_kind.get(kind, 0) + 1


def _raise_for(status: int, method: str, url: str, body: str) -> None:
    what = f"{method} {url} → {status}: {body[:300]}"
    if status == 409:
        raise Conflict(what)
    if status == 404:
        raise NotFound(what)
    if status >= 500 or status == 429:
        raise TransientError(what)
    if method == "GET" and "Cannot parse the JSON" in body:
        # Keycloak's own words when it cannot write its answer (a GET sends no JSON to parse): see UnreadableAnswer
        raise UnreadableAnswer(what)
    raise PermanentError(what)


class KeycloakAdmin:
    """Admin REST of one realm, authenticated as a service-account client or a (bootstrap) user."""

    def __init__(
        self,
        *,
        server_url: str,
        realm: str,
        client_id: str = "admin-cli",
        client_secret: str | None = None,
        username: str | None = None,
        password: str | None = None,
        auth_realm: str | None = None,
        verify: bool = True,
        pool_size: int = 32,
    ) -> None:
        self.server_url = server_url.rstrip("/") + "/"
        self.realm = realm
        self.calls = CallCounter()
        self._lock = asyncio.Lock()
        self._conn = KeycloakOpenIDConnection(
            server_url=self.server_url,
            realm_name=realm,
            user_realm_name=auth_realm or realm,
            client_id=client_id,
            client_secret_key=client_secret,
            username=username,
            password=password,
            verify=verify,
            pool_maxsize=pool_size,
            timeout=60,
        )

    def _url(self, path: str) -> str:
        if path.startswith("/"):
            return path.lstrip("/")
        base = f"admin/realms/{self.realm}"
        return f"{base}/{path}" if path else base

    def _login(self) -> None:
        if self._conn.token is None:
            try:
                self._conn.get_token()
            except KeycloakConnectionError as exc:
                raise TransientError(f"Keycloak unreachable at {self.server_url}: {exc}") from None
            except KeycloakError as exc:
                raise PermanentError(f"Keycloak refused the bridge's credentials: {exc}") from None

    def own_user_id(self) -> str:
        """The id of the user this client acts as (its service account): the ``sub`` of its own access token,
        which it received from Keycloak itself (no other read, so no view-clients role is needed)."""
        self._login()
        token = self._conn.token or {}
        access = str(token["access_token"])
        payload = access.split(".")[1]
        return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"])

    @staticmethod
    def _decode(response: Any) -> Any:
        """The answer's JSON. A body that is not JSON is the bridge's :class:`PermanentError`, never a crash of
        its caller: Keycloak 26 broke off a user search mid-answer (``…}{"error":"unknown_error"}``) when the
        directory entry it imported held a 10 kB name (issue 17)."""
        text = response.text
        try:
            return json.loads(text) if text else None
        except ValueError:
            url = getattr(getattr(response, "request", None), "url", "")
            path = getattr(url, "path", "")
            raise UnreadableAnswer(f"Keycloak answered {path} with a body that is not JSON ({len(text)} characters, "
                                 f"ends {text[-120:]!r})") from None  # fmt: skip

    def _check(self, response: Any, method: str, path: str) -> Any:
        self.calls.count(method, path)
        if response.status_code >= 400:
            _raise_for(response.status_code, method, path, response.text)
        return response

    @staticmethod
    def _created_id(response: Any) -> str | None:
        location = response.headers.get("Location")
        return location.rstrip("/").rsplit("/", 1)[-1] if location else None

    # --- synchronous -----------------------------------------------------------------------------------
    def get(self, path: str, **params: Any) -> Any:
        """GET a JSON document (``path`` relative to the realm's admin root, or absolute from ``/``)."""
        self._login()
        try:
            response = self._conn.raw_get(self._url(path), **params)
        except KeycloakConnectionError as exc:
            raise TransientError(f"GET {path}: {exc}") from None
        return self._decode(self._check(response, "GET", path))

    def post(self, path: str, body: Any) -> str | None:
        """POST JSON; returns the id of the created object when Keycloak gives one."""
        self._login()
        try:
            response = self._conn.raw_post(self._url(path), data=json.dumps(body))
        except KeycloakConnectionError as exc:
            raise TransientError(f"POST {path}: {exc}") from None
        return self._created_id(self._check(response, "POST", path))

    def put(self, path: str, body: Any) -> None:
        """PUT JSON."""
        self._login()
        try:
            response = self._conn.raw_put(self._url(path), data=json.dumps(body))
        except KeycloakConnectionError as exc:
            raise TransientError(f"PUT {path}: {exc}") from None
        self._check(response, "PUT", path)

    def delete(self, path: str, body: Any = None) -> None:
        """DELETE (with an optional JSON body, as role-mapping removal needs)."""
        self._login()
        try:
            response = self._conn.raw_delete(self._url(path), data=json.dumps(body) if body is not None else None)
        except KeycloakConnectionError as exc:
            raise TransientError(f"DELETE {path}: {exc}") from None
        self._check(response, "DELETE", path)

    # --- asynchronous ----------------------------------------------------------------------------------
    async def _alogin(self) -> None:
        async with self._lock:
            try:
                if self._conn.token is None:
                    await self._conn.a_get_token()
                else:
                    await self._conn.a__refresh_if_required()
            except KeycloakConnectionError as exc:
                raise TransientError(f"Keycloak unreachable at {self.server_url}: {exc}") from None
            except KeycloakError as exc:
                raise PermanentError(f"Keycloak refused the bridge's credentials: {exc}") from None

    async def aget(self, path: str, **params: Any) -> Any:
        """Async GET."""
        await self._alogin()
        try:
            response = await self._conn.a_raw_get(self._url(path), **params)
        except KeycloakConnectionError as exc:
            raise TransientError(f"GET {path}: {exc}") from None
        return self._decode(self._check(response, "GET", path))

    async def apost(self, path: str, body: Any) -> str | None:
        """Async POST."""
        await self._alogin()
        try:
            response = await self._conn.a_raw_post(self._url(path), data=json.dumps(body))
        except KeycloakConnectionError as exc:
            raise TransientError(f"POST {path}: {exc}") from None
        return self._created_id(self._check(response, "POST", path))

    async def aget_slow(self, path: str, *, timeout_s: float, **params: Any) -> Any:
        """Async GET of a long search (a unit's people through the directory), waiting up to ``timeout_s``."""
        return await self._slow("GET", path, None, timeout_s=timeout_s, params=params)

    async def apost_slow(self, path: str, body: Any, *, timeout_s: float, **params: Any) -> Any:
        """Async POST of a long-running action (a federation sync), waiting up to ``timeout_s``; JSON answer."""
        return await self._slow("POST", path, json.dumps(body), timeout_s=timeout_s, params=params)

    async def _slow(self, method: str, path: str, content: str | None, *, timeout_s: float, params: Any) -> Any:
        """One request with its own timeout instead of the client's; a broken connection is transient."""
        await self._alogin()
        try:
            response = await self._conn.async_s.request(
                method=method,
                url=self.server_url + self._url(path),
                params=params,
                content=content,
                headers=self._conn.headers,
                timeout=timeout_s,
            )
        except (httpx.HTTPError, KeycloakConnectionError) as exc:
            raise TransientError(f"{method} {path}: {type(exc).__name__} {exc}") from None
        return self._decode(self._check(response, method, path))

    async def aput(self, path: str, body: Any) -> None:
        """Async PUT."""
        await self._alogin()
        try:
            response = await self._conn.a_raw_put(self._url(path), data=json.dumps(body))
        except KeycloakConnectionError as exc:
            raise TransientError(f"PUT {path}: {exc}") from None
        self._check(response, "PUT", path)

    async def adelete(self, path: str, body: Any = None) -> None:
        """Async DELETE."""
        await self._alogin()
        try:
            response = await self._conn.a_raw_delete(
                self._url(path), data=json.dumps(body) if body is not None else None
            )
        except KeycloakConnectionError as exc:
            raise TransientError(f"DELETE {path}: {exc}") from None
        self._check(response, "DELETE", path)

    async def aclose(self) -> None:
        """Close the async HTTP pool."""
        await self._conn.async_s.aclose()


def service_account_admin(settings: KeycloakSettings, *, realm: str | None = None) -> KeycloakAdmin:
    """Admin REST as the bridge's own service-account client, on ``realm`` (default: the configured realm).

    The one place the bridge's credentials, TLS verification and pool size are read from the settings; the
    pool holds the executor's ``concurrency`` requests and a few reads beside them.
    """
    return KeycloakAdmin(
        server_url=settings.url,
        realm=realm or settings.realm,
        client_id=settings.client_id,
        client_secret=settings.client_secret.get_secret_value(),
        verify=settings.verify_tls,
        pool_size=settings.concurrency + 8,
    )


def client_credentials_token(*, server_url: str, realm: str, client_id: str, client_secret: str) -> dict[str, Any]:
    """A token for a confidential client (used by tests and the demo to act as an application)."""
    oidc = KeycloakOpenID(server_url=server_url, realm_name=realm, client_id=client_id, client_secret_key=client_secret)
    try:
        token: dict[str, Any] = oidc.token(grant_type="client_credentials")
    except KeycloakError as exc:
        raise PermanentError(f"client {client_id} could not get a token: {exc}") from None
    return token
