"""The console's OpenID Connect client (authlib's Starlette integration) and the back-channel logout token.

Login is Keycloak's authorization code flow for the realm's confidential ``bhxh-bridge-ui`` client, with PKCE
S256, ``state`` and ``nonce`` (authlib keeps the three in the signed session cookie for the round trip and
checks them on return). A back-channel logout token is checked as OpenID Connect Back-Channel Logout 1.0 asks:
signed by the realm (its JWKS, RS256), our issuer and audience, the logout event, no nonce.
"""

from __future__ import annotations

from typing import Any

from authlib.integrations.starlette_client import OAuth, StarletteOAuth2App
from joserfc import jwt
from joserfc.errors import JoseError

from bridge.interfaces.api.auth import TokenValidator
from bridge.settings import UiSettings

LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"


def oidc_client(*, issuer: str, ui: UiSettings) -> StarletteOAuth2App:
    """The realm's console client, configured from the realm's discovery document."""
    oauth = OAuth()
    client = oauth.register(
        name="keycloak",
        client_id=ui.client_id,
        client_secret=ui.client_secret.get_secret_value(),
        server_metadata_url=f"{issuer}/.well-known/openid-configuration",
        client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256"},
    )
    assert isinstance(client, StarletteOAuth2App)
    return client


class InvalidLogoutToken(ValueError):
    """A back-channel logout token that fails a check (the answer is 400)."""


def logout_claims(token: str, *, validator: TokenValidator, client_id: str) -> dict[str, Any]:
    """The claims of a valid back-channel logout token (``sid`` and/or ``sub``), else :class:`InvalidLogoutToken`."""
    try:
        decoded = jwt.decode(token, validator.key_set(), algorithms=["RS256"])
        registry = jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": validator.issuer},
            aud={"essential": True, "value": client_id},
            iat={"essential": True},
        )
        registry.validate(decoded.claims)
    except (JoseError, ValueError) as exc:
        raise InvalidLogoutToken(str(exc)) from None
    claims = dict(decoded.claims)
    if LOGOUT_EVENT not in (claims.get("events") or {}) or "nonce" in claims:
        raise InvalidLogoutToken("not a back-channel logout token")
    if not claims.get("sid") and not claims.get("sub"):
        raise InvalidLogoutToken("names neither a session nor a subject")
    return claims
