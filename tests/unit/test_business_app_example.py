"""The sample business application (examples/business-app/) is code application teams copy: it stands alone
(no import of the bridge), passes mypy --strict, reads roles from group paths, and refuses every defective
back-channel logout token (OIDC Back-Channel Logout 1.0 §2.6)."""

from __future__ import annotations

import ast
import subprocess
import sys
import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from bridge.testbed.business_apps import EXAMPLE, load_example

ISSUER = "https://sso.example/realms/bhxh"
EVENT = {"http://schemas.openid.net/event/backchannel-logout": {}}
example = load_example()
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})
JWKS = {"keys": [KEY.as_dict(private=False)]}


def token(claims: dict[str, Any], key: RSAKey = KEY) -> str:
    return jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)


def good(**changes: Any) -> dict[str, Any]:
    claims = {"iss": ISSUER, "aud": "tst", "iat": int(time.time()), "jti": "j", "sid": "s1", "sub": "u1",
              "events": EVENT}  # fmt: skip
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def test_the_example_imports_nothing_of_the_bridge_and_passes_mypy_strict() -> None:
    tree = ast.parse(EXAMPLE.read_text(encoding="utf-8"))
    imported = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    }
    assert not {m for m in imported if m.split(".")[0] in ("bridge", "tests")}
    checked = subprocess.run([sys.executable, "-m", "mypy", "--strict", str(EXAMPLE)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout


def test_roles_come_from_the_applications_group_paths_only() -> None:
    claims = {"groups": ["/apps/TST/operator", "/apps/TST/supervisor", "/apps/TNHS/admin", "/units/01000"]}
    assert example.roles_of(claims, "TST") == ["operator", "supervisor"]
    assert example.roles_of(claims, "KT") == []


def test_a_valid_logout_token_is_accepted() -> None:
    claims = example.validate_logout_token(token(good()), issuer=ISSUER, client_id="tst", jwks=JWKS)
    assert claims["sid"] == "s1"


@pytest.mark.parametrize(
    ("claims", "key", "why"),
    [
        (good(), RSAKey.generate_key(2048, parameters={"kid": "k1"}), "signature"),
        (good(iss="https://evil.example/realms/bhxh"), KEY, "iss"),
        (good(aud="tnhs"), KEY, "aud"),
        (good(events=None), KEY, "events"),
        (good(events={"other": {}}), KEY, "events"),
        (good(nonce="n"), KEY, "nonce"),
        (good(sid=None, sub=None), KEY, "sid/sub"),
        (good(iat=None), KEY, "iat"),
    ],
)
def test_a_defective_logout_token_is_refused(claims: dict[str, Any], key: RSAKey, why: str) -> None:
    with pytest.raises(Exception):  # noqa: B017 - joserfc's and the example's errors alike
        example.validate_logout_token(token(claims, key), issuer=ISSUER, client_id="tst", jwks=JWKS)


def test_sessions_end_by_keycloak_session_or_by_user() -> None:
    sessions = example.Sessions()
    a = sessions.start({"sid": "s1", "sub": "u1"}, "id")
    sessions.start({"sid": "s2", "sub": "u1"}, "id")
    sessions.start({"sid": "s3", "sub": "u2"}, "id")
    assert sessions.end(sid="s1", sub="u1") == 1 and a not in sessions.by_id
    assert sessions.end(sid=None, sub="u1") == 1
    assert len(sessions.by_id) == 1
