"""The test relying party's back-channel logout endpoint (OIDC Back-Channel Logout 1.0) on 127.0.0.1:8765.

Keycloak POSTs a ``logout_token`` (a signed JWT) to the URL an application registered when a user's session
ends. This receiver validates each token the way an application must — RS256 signature against the realm's
JWKS, issuer, audience (the client id), ``iat``, the back-channel-logout event, a ``sid`` or ``sub``, and no
``nonce`` — and keeps the valid ones, so a test can show that a lock told the application.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

EVENT = "http://schemas.openid.net/event/backchannel-logout"


class BackchannelReceiver:
    """An HTTP server on ``host:port`` that validates and records back-channel logout tokens."""

    def __init__(self, *, issuer: str, client_id: str, host: str = "127.0.0.1", port: int = 8765) -> None:
        self.issuer, self.client_id = issuer, client_id
        self.received: list[dict[str, Any]] = []
        self.rejected: list[str] = []
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = parse_qs(self.rfile.read(length).decode())
                try:
                    claims = receiver.validate(form.get("logout_token", [""])[0])
                except Exception as exc:  # any invalid token is refused with 400, as the spec asks
                    receiver._record(None, f"{type(exc).__name__}: {exc}")
                    self.send_response(400)
                else:
                    receiver._record(claims, None)
                    self.send_response(200)
                self.send_header("Cache-Control", "no-store")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def validate(self, token: str) -> dict[str, Any]:
        """The claims of a valid logout token; raises on any defect."""
        jwks = KeySet.import_key_set(httpx.get(f"{self.issuer}/protocol/openid-connect/certs", timeout=10).json())
        decoded = jwt.decode(token, jwks, algorithms=["RS256"])
        JWTClaimsRegistry(
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.client_id},
            iat={"essential": True},
        ).validate(decoded.claims)
        claims = dict(decoded.claims)
        if EVENT not in (claims.get("events") or {}):
            raise ValueError("not a back-channel logout event")
        if "nonce" in claims:
            raise ValueError("a logout token must not carry a nonce")
        if not claims.get("sid") and not claims.get("sub"):
            raise ValueError("neither sid nor sub")
        return claims

    def _record(self, claims: dict[str, Any] | None, error: str | None) -> None:
        with self._cond:
            if claims is not None:
                self.received.append(claims)
            if error is not None:
                self.rejected.append(error)
            self._cond.notify_all()

    def wait_for(self, sub: str, timeout: float = 10.0) -> dict[str, Any] | None:
        """The first valid logout token for user ``sub``, waiting up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = next((c for c in self.received if c.get("sub") == sub), None)
                left = deadline - time.monotonic()
                if found is not None or left <= 0:
                    return found
                self._cond.wait(left)

    def __enter__(self) -> BackchannelReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
