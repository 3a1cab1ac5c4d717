"""The governance world's people in the test bed's real Keycloak realm, and their real access tokens.

The world's directory people (gov_world.PEOPLE, active ones) are added once per session to the stack's live
slapd as ordinary ``inetOrgPerson`` entries (NFC Vietnamese names, their unit code as ``departmentNumber``, an
employee number that gives their test password). Each caller then logs in through the realm's public PKCE
client ``bhxh-bridge-ui`` — the browser flow, LDAP password — and the API validates the access token against the
realm's JWKS, as in production. Tokens are cached per e-mail and a caller logs in again when less than
:data:`MIN_LEFT_S` of the token's lifetime remains, so a long run never presents an expired token.
"""

from __future__ import annotations

import threading
import time
import unicodedata
from dataclasses import dataclass, field

from gov_world import PEOPLE

from bridge.adapters.directory.lookup import DirectoryPerson
from bridge.interfaces.api.auth import TokenValidator
from bridge.testbed.directory_gen import Person, password_for, person_ldif
from bridge.testbed.relying_party import RelyingParty
from bridge.testbed.slapd_server import PEOPLE_BASE
from bridge.testbed.stack import Stack

AUDIENCE = "bhxh-bridge-api"
UI_CLIENT = "bhxh-bridge-ui"
UI_REDIRECT = "http://127.0.0.1:8000/ui/callback"
#: Log in again when less than this many seconds of the access token's lifetime (300 s in the realm) remain.
MIN_LEFT_S = 60.0
#: Employee numbers of the world's people: a range the generated directory (BH0…) and sync tests (BH9…) never use.
EMPLOYEE_BASE = 8_000_000


def directory_entry(person: DirectoryPerson, index: int) -> Person:
    """The directory entry of one world person (family name first, as the official directory writes it)."""
    full_name = unicodedata.normalize("NFC", person.full_name)
    family, _, given = full_name.partition(" ")
    number = f"BH{EMPLOYEE_BASE + index:07d}"
    return Person(
        uid=number.lower(),
        full_name=full_name,
        family_name=family,
        given_name=given,
        mail=person.email,
        unit_code=person.unit_code,
        title=person.title or "Chuyên viên",
        employee_number=number,
    )


ENTRIES: tuple[Person, ...] = tuple(directory_entry(p, i + 1) for i, p in enumerate(PEOPLE) if p.active)


@dataclass
class Realm:
    """The stack's realm as the API and its callers see it: the validator, and tokens per caller."""

    stack: Stack
    min_left_s: float = MIN_LEFT_S
    logins: int = 0
    _tokens: dict[str, tuple[str, float]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def issuer(self) -> str:
        return f"{self.stack.settings.keycloak.url}/realms/{self.stack.units.realm}"

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/certs"

    @property
    def ui(self) -> RelyingParty:
        """The realm's console client (confidential, PKCE): its access tokens carry the API's audience."""
        secret = self.stack.settings.ui.client_secret.get_secret_value()
        return RelyingParty(issuer=self.issuer, client_id=UI_CLIENT, client_secret=secret, redirect_uri=UI_REDIRECT)

    def validator(self) -> TokenValidator:
        """A validator of this realm's tokens, as the API builds one from settings."""
        return TokenValidator(issuer=self.issuer, audience=AUDIENCE, jwks_url=self.jwks_url)

    def add_people(self) -> None:
        """Add the world's people to the live directory (once per stack)."""
        records = []
        for person in ENTRIES:
            dn_line, rest = person_ldif(person, PEOPLE_BASE).split("\n", 1)
            records.append(f"{dn_line}\nchangetype: add\n{rest}")
        self.stack.slapd.modify("\n".join(records) + "\n")

    def token(self, email: str) -> str:
        """A valid access token of ``email`` from the realm, logging in again when it nears expiry."""
        with self._lock:
            cached = self._tokens.get(email)
            if cached is not None and cached[1] - time.monotonic() > self.min_left_s:
                return cached[0]
            entry = next(p for p in ENTRIES if p.mail == email)
            started = time.monotonic()
            tokens = self.ui.login(email, password_for(entry.employee_number)).tokens
            self.logins += 1
            access = str(tokens["access_token"])
            self._tokens[email] = (access, started + float(tokens["expires_in"]))
            return access

    def headers(self, email: str | None) -> dict[str, str]:
        """``Authorization`` header of ``email``; no header for an anonymous caller (``None``)."""
        return {"Authorization": f"Bearer {self.token(email)}"} if email else {}
