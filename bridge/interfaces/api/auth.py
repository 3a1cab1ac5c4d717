"""Validation of Keycloak-issued access tokens (authlib's joserfc) against the realm's JWKS over HTTP.

Only RS256 is accepted (no ``none``, no HMAC with a public key as secret); issuer, audience and expiry are
essential claims. The JWKS is fetched from the realm and cached; a token signed with an unknown key id
triggers one refetch (Keycloak rotates keys), at most once per ``min_refresh_s``. Every fetch goes through one
HTTP client kept by the validator: a client made per fetch built a new TLS context (the whole CA bundle) each
time, and each left about a megabyte of the serving process's memory behind — the steps of issue 17's RSS
creep, one per ``cache_s`` (docs/decisions/0830). The caller is identified by
the token's ``email`` (the official e-mail, lower-cased); what they may do is decided from the store.

A token that passed every check is remembered (bounded LRU keyed by the exact token string) until its own
``exp``: clients send the same access token with every request for its lifetime, and re-verifying the RS256
signature each time was pure repetition. Nothing is remembered for a token that failed, a cached token is
refused from its expiry second on exactly as the full check would, and every JWKS fetch empties the cache, so
a key Keycloak withdrew stops covering cached tokens within ``cache_s`` (docs/decisions/0106). The cache only
answers "who is this"; the caller's role and scope are still read from the store on every request.

A signed token stays valid until its ``exp`` even when Keycloak has disabled its holder since (Keycloak's own
CVE-2025-14559 and CVE-2026-1609 were disabled users still holding tokens). With the bridge's service-account
credentials configured, the holder (``sub``) of every new token is read from the realm's admin REST and a
disabled or deleted user is refused; a remembered token is checked again after ``recheck_s``
(docs/decisions/0800). Every refusal names its ``reason`` (``algorithm-refused``, ``bad-signature``,
``unknown-key``, ``wrong-issuer``, ``wrong-audience``, ``expired``, ``not-yet-valid``, ``holder-disabled`` …),
which the API writes into the refusal's ledger row. Every request to Keycloak obeys ``keycloak.verify_tls``.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    ConflictAlgorithmError,
    DecodeError,
    ExpiredTokenError,
    InvalidKeyIdError,
    JoseError,
    MissingAlgorithmError,
    MissingKeyError,
    UnsupportedAlgorithmError,
)
from joserfc.jwk import KeySet

from bridge.adapters.directory.lookup import normalise_email
from bridge.adapters.keycloak.admin import KeycloakAdmin
from bridge.domain.rules import Rule
from bridge.errors import BridgeError, NotFound, TransientError
from bridge.settings import Settings

ALGORITHMS = ("RS256",)


class Unauthenticated(BridgeError):
    """No valid access token (401)."""

    status = 401
    code = "unauthenticated"
    rule = Rule.R0_UNAUTHENTICATED.value

    def __init__(self, message: str, *, reason: str = "missing-token") -> None:
        super().__init__(message)
        #: Why the token was refused, one short word-code (written into the refusal's ledger row).
        self.reason = reason


#: The claim a claim error is about → the refusal's reason.
_CLAIM_REASONS = {"iss": "wrong-issuer", "aud": "wrong-audience", "exp": "expired", "nbf": "not-yet-valid",
                  "iat": "not-yet-valid"}  # fmt: skip


def refusal_reason(exc: Exception) -> str:
    """The short reason code of a validation error of joserfc (or of a malformed token)."""
    if isinstance(exc, ExpiredTokenError):
        return "expired"
    if isinstance(exc, ClaimError):
        return _CLAIM_REASONS.get(exc.claim, f"bad-claim-{exc.claim}"[:40])
    if isinstance(exc, (UnsupportedAlgorithmError, ConflictAlgorithmError, MissingAlgorithmError)):
        return "algorithm-refused"
    if isinstance(exc, BadSignatureError):
        return "bad-signature"
    if isinstance(exc, (InvalidKeyIdError, MissingKeyError)):
        return "unknown-key"
    if isinstance(exc, DecodeError):
        return "malformed"
    return "invalid-token"


@dataclass
class TokenValidator:
    """Validates bearer tokens of one realm."""

    issuer: str
    audience: str
    jwks_url: str
    cache_s: float = 300.0
    min_refresh_s: float = 10.0
    #: How many validated tokens are remembered (least recently used ones are forgotten first).
    cache_size: int = 2048
    #: Verify Keycloak's TLS certificate when fetching the JWKS and reading token holders (``keycloak.verify_tls``).
    verify: bool = True
    #: Client id and secret of the bridge's service account, to ask the realm whether a token's holder is still
    #: an enabled user; None: signature and claims only (test issuers without Keycloak).
    holder_check_client: tuple[str, str] | None = field(default=None, repr=False)
    #: How long a remembered token is trusted before its holder is checked again (holder check only).
    recheck_s: float = 30.0
    #: Clock skew accepted on ``exp``, ``nbf`` and ``iat`` (seconds); 0, as the remembered-token rule assumes.
    leeway_s: int = 0
    _keys: KeySet | None = field(default=None, repr=False)
    _valid: OrderedDict[str, tuple[int, str, float]] = field(default_factory=OrderedDict, repr=False)
    _fetched_at: float = field(default=0.0, repr=False)
    _admin: KeycloakAdmin | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    #: Holder checks by ``sub``: (enabled, when checked) and one lock per holder, so the requests in flight when a
    #: check falls due make one Keycloak call between them, not one each.
    _holders: dict[str, tuple[bool, float]] = field(default_factory=dict, repr=False)
    _holder_locks: dict[str, threading.Lock] = field(default_factory=dict, repr=False)
    #: The HTTP client of every JWKS fetch (made at the first): one TLS context for the process's life.
    _http: httpx.Client | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenValidator:
        """Issuer, audience and JWKS URL from the ``governance`` and ``keycloak`` settings groups."""
        kc, gov = settings.keycloak, settings.governance
        issuer = gov.issuer or f"{kc.url.rstrip('/')}/realms/{kc.realm}"
        jwks = gov.jwks_url or f"{issuer}/protocol/openid-connect/certs"
        secret = kc.client_secret.get_secret_value()
        return cls(
            issuer=issuer,
            audience=gov.audience,
            jwks_url=jwks,
            cache_s=gov.jwks_cache_s,
            verify=kc.verify_tls,
            holder_check_client=(kc.client_id, secret) if secret and gov.check_token_holder else None,
        )

    @property
    def realm_url(self) -> str:
        """The realm's base URL as this bridge reaches it (the JWKS URL's, which may differ from ``iss``)."""
        return self.jwks_url.rsplit("/protocol/", 1)[0]

    @property
    def admin_url(self) -> str:
        """The realm's admin REST root."""
        return self.realm_url.replace("/realms/", "/admin/realms/", 1)

    @property
    def stale(self) -> bool:
        """True when the cached JWKS is missing or older than ``cache_s``."""
        return self._keys is None or time.monotonic() - self._fetched_at > self.cache_s

    def refresh(self) -> None:
        """Fetch the JWKS now if the cache is stale."""
        self._key_set(refresh=False)

    def key_set(self) -> KeySet:
        """The realm's signing keys (cached; fetched when stale), for other tokens the realm signs."""
        return self._key_set(refresh=False)

    def _key_set(self, *, refresh: bool) -> KeySet:
        with self._lock:
            age = time.monotonic() - self._fetched_at
            stale = self._keys is None or age > self.cache_s or (refresh and age > self.min_refresh_s)
            if stale:
                try:
                    response = self._jwks_http().get(self.jwks_url)
                    response.raise_for_status()
                    self._keys = KeySet.import_key_set(response.json())
                except (httpx.HTTPError, ValueError, JoseError) as exc:
                    if self._keys is None:
                        raise TransientError(f"cannot read the realm's JWKS: {exc}") from None
                self._fetched_at = time.monotonic()
                self._valid.clear()  # tokens are vouched for by the key set as last read
            assert self._keys is not None
            return self._keys

    def _jwks_http(self) -> httpx.Client:
        """The one client of the JWKS fetches (called under ``_lock``). It keeps no idle connection: a fetch every
        ``cache_s`` would otherwise find the one it kept closed by Keycloak; what it keeps is its TLS context."""
        if self._http is None:
            self._http = httpx.Client(timeout=5.0, verify=self.verify, limits=httpx.Limits(max_keepalive_connections=0))
        return self._http

    def _decode(self, token: str, *, refresh: bool) -> dict[str, Any]:
        decoded = jwt.decode(token, self._key_set(refresh=refresh), algorithms=ALGORITHMS)
        registry = jwt.JWTClaimsRegistry(
            leeway=self.leeway_s,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.audience},
            exp={"essential": True},
        )
        registry.validate(decoded.claims)
        return dict(decoded.claims)

    def claims(self, token: str) -> dict[str, Any]:
        """The validated claims of ``token``, or :class:`Unauthenticated` saying what is wrong."""
        try:
            try:
                return self._decode(token, refresh=False)
            except InvalidKeyIdError:  # Keycloak may have rotated its keys: read the JWKS again
                return self._decode(token, refresh=True)
        except (JoseError, ValueError) as exc:
            raise Unauthenticated(f"invalid access token: {exc}", reason=refusal_reason(exc)) from None

    def _holder_admin(self) -> KeycloakAdmin:
        """Admin REST as the bridge's service account (the Keycloak adapter, which keeps and renews its token)."""
        assert self.holder_check_client is not None
        with self._lock:
            if self._admin is None:
                server_url, _, realm = self.realm_url.rpartition("/realms/")
                client_id, secret = self.holder_check_client
                self._admin = KeycloakAdmin(
                    server_url=server_url, realm=realm, client_id=client_id, client_secret=secret, verify=self.verify
                )
            return self._admin

    def holder_enabled(self, claims: dict[str, Any]) -> bool:
        """Whether the token's holder (``sub``) is still an enabled user of the realm (admin REST, view-users).

        Keycloak 26.6+ answers its introspection endpoint only to a client in the token's audience, which the
        bridge's service account is not; the user itself is what a disabled holder changes, so it is read.
        """
        if self.holder_check_client is None:
            return True
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub or "/" in sub:
            return False
        with self._lock:
            one = self._holder_locks.setdefault(sub, threading.Lock())
        with one:  # the others in flight for this holder wait for the one call and use its answer
            known = self._holders.get(sub)
            if known is not None and time.monotonic() - known[1] <= self.recheck_s:
                return known[0]
            checked = time.monotonic()
            try:
                user = self._holder_admin().get(f"users/{sub}")
                enabled = isinstance(user, dict) and user.get("enabled") is True
            except NotFound:
                enabled = False  # the user was deleted
            except BridgeError as exc:
                # fail closed: a holder that cannot be checked is not let through; the caller retries (503)
                raise TransientError(f"cannot ask the realm whether the token's holder is enabled: {exc}") from None
            with self._lock:
                self._holders[sub] = (enabled, checked)
                if len(self._holders) > self.cache_size:  # forget the oldest checks (insertion order)
                    for old in list(self._holders)[: len(self._holders) - self.cache_size]:
                        self._holders.pop(old, None)
                        self._holder_locks.pop(old, None)
            return enabled

    def remembered(self, token: str) -> str | None:
        """The e-mail of ``token`` if it passed every check before and has not expired since; else None.

        Does no I/O, so the event loop may ask; on None, call :meth:`email` (it may fetch the JWKS).
        """
        if self.stale:
            return None  # the next full check fetches the JWKS, which empties the cache
        with self._lock:
            known = self._valid.get(token)
            if known is None:
                return None
            if self.holder_check_client is not None and time.monotonic() - known[2] > self.recheck_s:
                del self._valid[token]  # ask the realm again: its holder may have been disabled since
                return None
            if int(time.time()) < known[0]:  # the rule of the full check: valid while now < exp
                self._valid.move_to_end(token)
                return known[1]
            del self._valid[token]
            return None

    def email(self, token: str) -> str:
        """The caller's official e-mail from a valid token (remembered until the token's ``exp``)."""
        if self.stale:
            self.refresh()  # a due JWKS fetch empties the cache, so no entry outlives its key set's cache_s
        known = self.remembered(token)
        if known is not None:
            return known
        claims = self.claims(token)
        email = claims.get("email")
        if not isinstance(email, str) or "@" not in email:
            raise Unauthenticated("the access token carries no e-mail (add the 'email' scope)", reason="no-email")
        email = normalise_email(email)
        checked = time.monotonic()
        if not self.holder_enabled(claims):
            raise Unauthenticated(
                "the access token's holder is disabled (or deleted) in the realm", reason="holder-disabled"
            )
        with self._lock:
            self._valid[token] = (int(claims["exp"]), email, checked)
            while len(self._valid) > self.cache_size:
                self._valid.popitem(last=False)
        return email
