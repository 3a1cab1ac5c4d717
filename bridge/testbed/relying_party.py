"""A small OIDC relying party: logs a person in through Keycloak's real login form (code + PKCE S256).

It stands in for a business application in the demo and the tests: it fetches the login page, submits the
e-mail and password as a browser would, exchanges the code with the verifier, and validates the ID token
against the realm's JWKS with authlib. A person asked to set up a second factor (Keycloak's CONFIGURE_TOTP
required action) does it as with an authenticator app: "unable to scan?" shows the key, the app computes the
current code (RFC 6238), the code is typed into the form.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import re
import secrets
import struct
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
from authlib.common.security import generate_token  # type: ignore[import-untyped]
from authlib.oauth2.rfc7636 import create_s256_code_challenge  # type: ignore[import-untyped]
from joserfc import jwt
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

from bridge.errors import Forbidden, PermanentError

FORM_ACTION = re.compile(r'<form[^>]*id="kc-form-login"[^>]*action="([^"]+)"', re.S)
TOTP_FORM = re.compile(r'<form[^>]*id="kc-totp-settings-form"[^>]*>', re.S)
ACTION = re.compile(r'action="([^"]+)"')
MANUAL_MODE = re.compile(r'<a[^>]*href="([^"]+)"[^>]*id="mode-manual"|<a[^>]*id="mode-manual"[^>]*href="([^"]+)"', re.S)
SECRET_KEY = re.compile(r'id="kc-totp-secret-key"[^>]*>\s*([A-Za-z2-7 =]+?)\s*<', re.S)
HIDDEN_INPUT = re.compile(r'<input[^>]*type="hidden"[^>]*>', re.S)
ERROR_TEXT = re.compile(r'class="[^"]*kc-feedback-text[^"]*"[^>]*>\s*([^<]*\S)\s*<', re.S)


class Browser:
    """An HTTP client that keeps cookies like a browser on a loopback origin.

    Keycloak marks its cookies ``Secure``; browsers still send them to http://127.0.0.1 (a potentially
    trustworthy origin), but Python's cookie jar does not, so cookies are carried by hand.
    """

    def __init__(self, *, local_address: str | None = None) -> None:
        """``local_address`` (e.g. ``127.0.0.2``) makes the browser appear from another address."""
        self.cookies: dict[str, str] = {}
        transport = httpx.HTTPTransport(local_address=local_address) if local_address else None
        self._http = httpx.Client(follow_redirects=False, timeout=30, transport=transport)

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        header = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        response = self._http.request(method, url, headers={"Cookie": header} if header else {}, **kwargs)
        for raw in response.headers.get_list("set-cookie"):
            name, _, rest = raw.partition("=")
            value = rest.split(";", 1)[0]
            if "Max-Age=0" in raw or not value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return response

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        """GET, keeping cookies."""
        return self._send("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        """POST, keeping cookies."""
        return self._send("POST", url, **kwargs)


def totp_code(key: bytes, *, at: float | None = None, digits: int = 6, period: int = 30) -> str:
    """The current time-based one-time password of ``key`` (RFC 6238, HMAC-SHA1, Keycloak's default policy)."""
    counter = int((time.time() if at is None else at) // period)
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = (int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF) % 10**digits
    return str(value).zfill(digits)


def decode_manual_key(text: str) -> bytes:
    """The key behind Keycloak's manual-entry text (base32 in groups of four, e.g. ``GEZD GNBV …``)."""
    compact = re.sub(r"\s+", "", text).upper().rstrip("=")
    return base64.b32decode(compact + "=" * (-len(compact) % 8))


def _hidden_fields(page: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for tag in HIDDEN_INPUT.findall(page):
        name, value = re.search(r'name="([^"]*)"', tag), re.search(r'value="([^"]*)"', tag)
        if name:
            fields[name.group(1)] = html.unescape(value.group(1)) if value else ""
    return fields


def configure_totp(browser: Browser, page: httpx.Response, *, base_url: str) -> tuple[httpx.Response, bytes]:
    """Answer Keycloak's "set up an authenticator" page: open the manual mode ("unable to scan?"), read the key,
    submit the current code. Returns the answer to the form and the key."""
    link = MANUAL_MODE.search(page.text)
    if link is None:
        raise PermanentError(f"no 'unable to scan' link on the OTP set-up page: {page.text[-4000:]}")
    manual = browser.get(str(httpx.URL(base_url).join(html.unescape(link.group(1) or link.group(2)))))
    found, form = SECRET_KEY.search(manual.text), TOTP_FORM.search(manual.text)
    if found is None or form is None:
        raise PermanentError(f"no key or form on the manual OTP page (HTTP {manual.status_code}): "
                             f"{manual.text[-4000:]}")  # fmt: skip
    action = ACTION.search(form.group(0))
    if action is None:
        raise PermanentError("the OTP set-up form has no action")
    key = decode_manual_key(html.unescape(found.group(1)))
    data = {**_hidden_fields(manual.text), "totp": totp_code(key), "userLabel": "authenticator"}
    return browser.post(html.unescape(action.group(1)), data=data), key


@dataclass(frozen=True)
class LoginResult:
    """Tokens of a successful login and the validated ID-token claims."""

    tokens: dict[str, Any]
    id_claims: dict[str, Any]


@dataclass(frozen=True)
class RelyingParty:
    """One OIDC client of the realm, as an application would hold it."""

    issuer: str
    client_id: str
    client_secret: str | None
    redirect_uri: str

    def _auth(self, data: dict[str, str]) -> dict[str, Any]:
        """Client authentication: HTTP Basic for confidential clients, ``client_id`` for public ones."""
        if self.client_secret is None:
            return {"data": {**data, "client_id": self.client_id}}
        return {"data": data, "auth": (self.client_id, self.client_secret)}

    def login(
        self, email: str, password: str, *, browser: Browser | None = None, set_up_totp: bool = False
    ) -> LoginResult:
        """Log ``email`` in through the browser flow; a refused login raises :class:`Forbidden`.

        ``set_up_totp``: when Keycloak asks for an authenticator (CONFIGURE_TOTP), set one up on the way.
        """
        browser = browser or Browser()
        verifier = generate_token(64)
        nonce, state = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        params = {
            "client_id": self.client_id,
            "response_type": "code",
            "scope": "openid email profile",
            "redirect_uri": self.redirect_uri,
            "state": state,
            "nonce": nonce,
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
        }
        page = browser.get(f"{self.issuer}/protocol/openid-connect/auth", params=params)
        match = FORM_ACTION.search(page.text)
        if page.status_code != 200 or not match:
            raise PermanentError(f"no login form for client {self.client_id} (HTTP {page.status_code})")
        answer = browser.post(
            html.unescape(match.group(1)), data={"username": email, "password": password, "credentialId": ""}
        )
        if set_up_totp:
            # a required action is a redirect to Keycloak's own page, not yet back to the application
            for _ in range(3):
                target = answer.headers.get("location", "")
                if answer.status_code != 302 or target.startswith(self.redirect_uri):
                    break
                answer = browser.get(str(answer.url.join(target)))
            if answer.status_code == 200 and TOTP_FORM.search(answer.text):
                answer, _ = configure_totp(browser, answer, base_url=str(answer.url))
        location = answer.headers.get("location", "")
        if answer.status_code != 302 or not location.startswith(self.redirect_uri):
            found = ERROR_TEXT.search(answer.text)
            reason = found.group(1) if found else f"HTTP {answer.status_code}"
            raise Forbidden(f"login refused for {email}: {html.unescape(reason)}")
        query = parse_qs(urlparse(location).query)
        if query.get("state") != [state]:
            raise PermanentError("state mismatch in the authorization response")
        response = httpx.post(
            f"{self.issuer}/protocol/openid-connect/token",
            **self._auth(
                {
                    "grant_type": "authorization_code",
                    "code": query["code"][0],
                    "redirect_uri": self.redirect_uri,
                    "code_verifier": verifier,
                }
            ),
            timeout=30,
        )
        if response.status_code != 200:
            raise PermanentError(f"code exchange failed: {response.text[:300]}")
        tokens: dict[str, Any] = response.json()
        return LoginResult(tokens=tokens, id_claims=self.validate_id_token(tokens["id_token"], nonce=nonce))

    def validate_id_token(self, token: str, *, nonce: str | None = None) -> dict[str, Any]:
        """Check signature (realm JWKS), issuer, audience, expiry and nonce; return the claims."""
        jwks = KeySet.import_key_set(httpx.get(f"{self.issuer}/protocol/openid-connect/certs", timeout=10).json())
        decoded = jwt.decode(token, jwks, algorithms=["RS256"])
        options: dict[str, Any] = {
            "iss": {"essential": True, "value": self.issuer},
            "aud": {"essential": True, "value": self.client_id},
            "exp": {"essential": True},
        }
        if nonce is not None:
            options["nonce"] = {"essential": True, "value": nonce}
        registry = JWTClaimsRegistry(**options)
        registry.validate(decoded.claims)
        return dict(decoded.claims)

    def refresh(self, refresh_token: str) -> dict[str, Any]:
        """Use a refresh token; a refused refresh raises :class:`Forbidden` with Keycloak's reason."""
        response = httpx.post(
            f"{self.issuer}/protocol/openid-connect/token",
            **self._auth({"grant_type": "refresh_token", "refresh_token": refresh_token}),
            timeout=30,
        )
        if response.status_code != 200:
            raise Forbidden(f"refresh refused: {response.text[:200]}")
        result: dict[str, Any] = response.json()
        return result


PASSWORD_FORM = re.compile(r'<form[^>]*id="kc-passwd-update-form"[^>]*action="([^"]+)"', re.S)
PROCEED_LINK = re.compile(r'<a[^>]*href="([^"]*login-actions/action-token[^"]*)"', re.S)


def set_password_from_link(browser: Browser, link: str, password: str, *, steps: int = 6) -> httpx.Response:
    """Follow the link of Keycloak's "required actions" e-mail and set ``password`` on its own form.

    Keycloak may first show a page asking to proceed (the link was opened outside the session that asked for it);
    the link is followed, the update-password form is filled, and the page Keycloak answers with is returned.
    """
    page = browser.get(link)
    for _ in range(steps):
        if page.status_code in (302, 303) and page.headers.get("location"):
            page = browser.get(str(page.url.join(page.headers["location"])))
            continue
        form = PASSWORD_FORM.search(page.text)
        if form is not None:
            return browser.post(
                str(page.url.join(html.unescape(form.group(1)))),
                data={"password-new": password, "password-confirm": password},
            )
        proceed = PROCEED_LINK.search(page.text)
        if page.status_code == 200 and proceed is not None:
            page = browser.get(str(page.url.join(html.unescape(proceed.group(1)))))
            continue
        break
    found = ERROR_TEXT.search(page.text)
    raise PermanentError(f"no password form behind the e-mailed link: {found.group(1) if found else page.status_code}")
