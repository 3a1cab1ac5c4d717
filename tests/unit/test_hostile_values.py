"""The pure rules of issue 17: hostile directory values and NFD names (decision 0801), the token validator's wiring
(decision 0800)."""

from __future__ import annotations

import unicodedata

import pytest

from bridge.adapters.directory.ldap import DirectoryEntry, RejectedEntry, parse_entry, shown, value_problem

SOUND = {"mail": [b"an.nguyen@baohiemxahoi.gov.vn"], "departmentNumber": [b"01000"], "uid": [b"an.nguyen"]}


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("mail", "*)(uid=*", "LDAP filter characters"),
        ("uid", "a\\2a", "LDAP filter characters"),
        ("displayName", "x" * 10240, "longer than 256 characters (10240)"),
        ("displayName", "Trần\x07Văn", "control characters"),
        ("displayName", "Lê \u202eB", "bidirectional (RTL) marks"),
        ("mail", "no-at-sign", "not an e-mail address"),
        # Keycloak's mappers copy givenName and sn into accounts: a 10 kB givenName broke its user search
        ("givenName", "Văn " * 2500, "longer than 256 characters"),
        ("sn", "Trần\x85Văn", "control characters"),
    ],
)
def test_a_hostile_value_rejects_the_entry(name: str, value: str, words: str) -> None:
    problem = value_problem(name, value)
    assert problem is not None and words in problem
    parsed = parse_entry("uid=h,ou=people", SOUND | {name: [value.encode()]})
    assert isinstance(parsed, RejectedEntry) and words in parsed.reason


def test_sound_values_pass_and_an_nfd_name_is_used_in_nfc() -> None:
    name = unicodedata.normalize("NFD", "Nguyễn Văn An")
    parsed = parse_entry("uid=an,ou=people", SOUND | {"displayName": [name.encode()]})
    assert isinstance(parsed, DirectoryEntry)
    assert parsed.display_name == unicodedata.normalize("NFC", name) and parsed.decomposed == ("displayName",)
    assert parse_entry("uid=an,ou=people", SOUND).decomposed == ()  # type: ignore[union-attr]
    in_nfd = parse_entry(unicodedata.normalize("NFD", "cn=Nguyễn An,ou=people"), SOUND)
    assert isinstance(in_nfd, DirectoryEntry) and in_nfd.decomposed == ("dn",)
    assert in_nfd.dn == unicodedata.normalize("NFC", "cn=Nguyễn An,ou=people")


def test_a_dn_is_printed_without_control_or_bidi_characters() -> None:
    assert shown("uid=a\u202eb\x01,ou=p") == "uid=a\\u202eb\\u0001,ou=p"
    assert shown("x" * 1000).endswith("… (1000 characters)")


def test_the_token_validator_obeys_verify_tls_and_checks_holders_only_with_a_secret() -> None:
    from pydantic import SecretStr

    from bridge.interfaces.api.auth import TokenValidator
    from bridge.settings import Settings

    base = Settings()
    kc = base.keycloak.model_copy(update={"verify_tls": False, "client_secret": SecretStr("s3cret")})
    validator = TokenValidator.from_settings(base.model_copy(update={"keycloak": kc}))
    assert validator.verify is False and validator.holder_check_client == (kc.client_id, "s3cret")
    assert validator.admin_url == f"{kc.url.rstrip('/')}/admin/realms/{kc.realm}"
    no_secret = base.keycloak.model_copy(update={"client_secret": SecretStr("")})
    assert TokenValidator.from_settings(base.model_copy(update={"keycloak": no_secret})).holder_check_client is None


def test_a_keycloak_answer_that_is_not_json_is_a_permanent_error() -> None:
    """Keycloak 26 broke off a user search mid-answer on a 10 kB name: the operation fails, the run goes on."""
    import httpx

    from bridge.adapters.keycloak.admin import KeycloakAdmin
    from bridge.errors import PermanentError

    broken = httpx.Response(200, text='[{"id":"1","firstName":"Nguy{"error":"unknown_error"}',
                            request=httpx.Request("GET", "http://kc/admin/realms/r/users"))  # fmt: skip
    with pytest.raises(PermanentError, match="not JSON"):
        KeycloakAdmin._decode(broken)
    assert KeycloakAdmin._decode(httpx.Response(200, text='[{"id": "1"}]')) == [{"id": "1"}]


def test_keycloak_saying_it_cannot_write_its_answer_is_an_unreadable_answer() -> None:
    """The sync's bulk import falls back to per-person lookups on it instead of failing the run."""
    from bridge.adapters.keycloak.admin import UnreadableAnswer, _raise_for
    from bridge.errors import PermanentError

    body = '{"error":"unknown_error","error_description":"Cannot parse the JSON"}'
    with pytest.raises(UnreadableAnswer):
        _raise_for(400, "GET", "users", body)
    with pytest.raises(PermanentError) as other:
        _raise_for(400, "PUT", "users/1", '{"error":"invalid"}')
    assert not isinstance(other.value, UnreadableAnswer)


def test_the_control_character_search_is_exactly_unicodes_category_cc() -> None:
    """The read checks values with one regular expression (decision 0911): it must find exactly the characters
    ``unicodedata.category`` calls control characters, over every code point."""
    from bridge.adapters.directory.ldap import BIDI_CHARS, BIDI_CONTROLS, CONTROL_CHARS

    for point in range(0x110000):
        char = chr(point)
        assert bool(CONTROL_CHARS.match(char)) == (unicodedata.category(char) == "Cc"), hex(point)
        assert bool(BIDI_CHARS.match(char)) == (char in BIDI_CONTROLS), hex(point)
