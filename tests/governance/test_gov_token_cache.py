"""The validated-token cache (decision 0106) answers only for tokens that passed every check, and only until
their expiry; a changed token, a failed one or a new key set goes through the full RS256 check again."""

from __future__ import annotations

import time

import pytest

from bridge.interfaces.api.auth import TokenValidator, Unauthenticated
from bridge.testbed.local_issuer import LocalIssuer

CALLER = "qt.hanoi@hanoi.vss.gov.vn"


def test_a_cached_token_is_refused_from_its_expiry_second(issuer: LocalIssuer) -> None:
    validator = issuer.validator()
    while time.time() % 1 > 0.5:  # start early in a second, so "2 s from now" leaves time for both calls
        time.sleep(0.05)
    token = issuer.token(CALLER, lifetime_s=2)
    assert validator.email(token) == CALLER
    assert validator.email(token) == CALLER
    assert token in validator._valid
    time.sleep(max(0.0, int(time.time()) + 2 - time.time()) + 0.05)
    with pytest.raises(Unauthenticated, match="expired"):
        validator.email(token)
    assert token not in validator._valid


def test_failed_tokens_are_never_remembered(issuer: LocalIssuer) -> None:
    validator = issuer.validator()
    good = issuer.token(CALLER)
    assert validator.email(good) == CALLER
    head, _payload, signature = good.split(".")
    forged = ".".join([head, issuer.token("it.admin@vss.gov.vn").split(".")[1], signature])
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            validator.email(forged)
    for bad in (issuer.token(CALLER, aud="account"), issuer.token(CALLER, iss="https://evil.example/realms/bhxh")):
        for _ in range(2):
            with pytest.raises(Unauthenticated):
                validator.email(bad)
    assert list(validator._valid) == [good]


def test_the_cache_is_bounded_and_emptied_by_a_jwks_fetch(issuer: LocalIssuer) -> None:
    validator = TokenValidator(issuer=issuer.issuer, audience=issuer.audience, jwks_url=issuer.jwks_url, cache_size=3)
    tokens = [issuer.token(f"user{i}@hanoi.vss.gov.vn") for i in range(5)]
    for token in tokens:
        validator.email(token)
    assert list(validator._valid) == tokens[2:]
    validator.email(tokens[2])  # a hit makes it the most recently used
    validator.email(tokens[0])
    assert list(validator._valid) == [tokens[4], tokens[2], tokens[0]]
    validator.cache_s = 0.0  # the key set is stale: the next call reads the JWKS again
    time.sleep(0.01)
    assert validator.email(tokens[1]) == "user1@hanoi.vss.gov.vn"
    assert list(validator._valid) == [tokens[1]]
