"""A stand-in token issuer for tests and benchmarks: an RSA key, its JWKS served over real HTTP on loopback.

The API validates tokens exactly as it does against Keycloak (JWKS fetched over HTTP, RS256, issuer, audience,
expiry); only the signer differs. Tests switch to the real Keycloak realm when the test bed provides it.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from bridge.interfaces.api.auth import TokenValidator

AUDIENCE = "bhxh-bridge-api"


@dataclass
class LocalIssuer:
    """Signs access tokens like a Keycloak realm and serves the public JWKS at ``jwks_url``."""

    audience: str = AUDIENCE
    key: RSAKey = field(
        default_factory=lambda: RSAKey.generate_key(
            2048, parameters={"kid": secrets.token_hex(8), "alg": "RS256", "use": "sig"}, private=True
        )
    )
    _server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the issuer first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def issuer(self) -> str:
        return f"{self.base_url}/realms/bhxh"

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/certs"

    def start(self) -> LocalIssuer:
        """Serve the JWKS on 127.0.0.1 and a free port."""
        body = json.dumps(KeySet([self.key]).as_dict(private=False)).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200 if self.path.endswith("/certs") else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def validator(self) -> TokenValidator:
        """A validator configured for this issuer, as the API builds one from settings."""
        return TokenValidator(issuer=self.issuer, audience=self.audience, jwks_url=self.jwks_url)

    def token(self, email: str | None, *, lifetime_s: int = 300, **overrides: Any) -> str:
        """An access token for ``email`` shaped like Keycloak's (``overrides`` may break it on purpose)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": ["account", self.audience],
            "exp": now + lifetime_s,
            "iat": now,
            "sub": secrets.token_hex(8),
            "typ": "Bearer",
            "azp": "bhxh-admin-ui",
            "email": email,
            "preferred_username": email,
        }
        claims.update(overrides)
        header = {"alg": "RS256", "kid": self.key.kid, "typ": "JWT"}
        return jwt.encode(header, {k: v for k, v in claims.items() if v is not None}, self.key)

    def __enter__(self) -> LocalIssuer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
