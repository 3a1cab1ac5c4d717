"""What the service functions share: the facts a decision needs, the caller's identity, and refusals.

A refusal is an ordinary domain error that also carries the rule that decided and the target it concerned, so
the API's single error handler (and the CLI) can write the refusal's ledger row after rolling the change back.
An out-of-scope target is refused with :class:`OutOfScope`, whose status and message are those of a missing
one: the caller cannot tell the two apart, the ledger can.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from bridge.adapters.directory.ldap import LdapDirectory
from bridge.adapters.directory.lookup import DirectoryLookup, SnapshotDirectory, normalise_email
from bridge.adapters.store.models import Administrator
from bridge.clock import today_vn
from bridge.domain.policy import Action, Actor, AdminRole, Decision, Target, decide
from bridge.domain.role_levels import Catalogue, load_catalogue
from bridge.domain.rules import Rule
from bridge.domain.units import UnitTree, load_units
from bridge.errors import ConfigError, Forbidden, NotFound
from bridge.settings import Settings, get_settings


def configured_it_center_unit() -> str:
    """The IT Center's unit code, from the settings (``BRIDGE_GOVERNANCE__IT_CENTER_UNIT``)."""
    return get_settings().governance.it_center_unit


@dataclass(frozen=True)
class GovContext:
    """The reference data every decision reads, and the date it is taken on."""

    units: UnitTree
    catalogue: Catalogue
    directory: DirectoryLookup
    on_date: dt.date = field(default_factory=today_vn)
    it_center_unit: str = field(default_factory=configured_it_center_unit)

    def decide(self, actor: Actor | None, action: Action, target: Target) -> Decision:
        """The scope policy, on this context's date and tree."""
        return decide(actor, action, target, self.on_date, self.units, it_center_unit=self.it_center_unit)

    def units_in_scope(self, actor: Actor) -> frozenset[str] | None:
        """Unit codes the actor may VIEW on the date; None means every unit (central readers)."""
        probe = self.decide(actor, Action.VIEW, Target(unit_code=self.it_center_unit))
        if probe.allowed and probe.rule == Rule.R12_CENTRAL_READ:
            return None
        return frozenset(_units_under(self.units, actor, self.on_date))


#: (id of the tree, province, day) → the unit codes under the province that day. Only the newest day asked is
#: kept: a serving process runs for months, and one entry per province per day would never be emptied.
_SCOPE_CACHE: dict[tuple[int, str, dt.date], frozenset[str]] = {}


def _units_under(units: UnitTree, actor: Actor, day: dt.date) -> frozenset[str]:
    if actor.role is not AdminRole.PROVINCE_ADMIN or actor.unit_code is None:
        return frozenset()
    province = units.province_of(actor.unit_code, day)
    if province is None:
        return frozenset()
    key = (id(units), province.code, day)
    found = _SCOPE_CACHE.get(key)
    if found is None:
        found = frozenset(c for c in units.on(day) if units.is_under(c, province.code, day))
        for old in [k for k in list(_SCOPE_CACHE) if k[2] < day]:  # another day began: its answers go
            _SCOPE_CACHE.pop(old, None)
        _SCOPE_CACHE[key] = found
    return found


class Refused(Forbidden):
    """A request the scope policy (or eligibility) refused, with the rule that decided."""

    def __init__(self, message: str, *, rule: str, target: str, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.rule = rule
        self.target = target


class OutOfScope(NotFound):
    """A target outside the caller's scope, or missing: both answer with the same status and message."""

    def __init__(self, message: str, *, rule: str, target: str, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.rule = rule
        self.target = target


def not_found(kind: str, key: object, *, rule: str, field: str) -> OutOfScope:
    """The one message for 'missing' and 'outside your scope' (không tìm thấy trong phạm vi quản lý)."""
    return OutOfScope(
        f"Không tìm thấy {kind} {key} trong phạm vi quản lý / no {kind} {key} in your scope",
        rule=rule,
        target=f"{kind}:{key}",
        field=field,
    )


def require(decision: Decision, *, target: str, visible: bool, kind: str, key: object, field: str) -> None:
    """Raise the refusal of ``decision``: 403 and the reason if the caller may see the target, else 404."""
    if decision.allowed:
        return
    if visible:
        raise Refused(f"{decision.reason} ({decision.rule})", rule=decision.rule, target=target, field=field)
    raise not_found(kind, key, rule=decision.rule, field=field)


def load_actor(session: Session, *, email: str) -> Actor:
    """The caller as the policy sees them: their administrator role and unit, or plain staff."""
    email = normalise_email(email)
    admin = session.get(Administrator, email)
    if admin is None:
        return Actor(email=email)
    return Actor(email=email, role=AdminRole(admin.role), unit_code=admin.unit_code)


def require_role(ctx: GovContext, actor: Actor, action: Action, *, target: str) -> None:
    """Refuse (403) a caller whose role can never do ``action``, before a target is looked up."""
    probe = ctx.decide(actor, action, Target())
    if not probe.allowed and probe.rule in ROLE_RULES:
        raise Refused(f"{probe.reason} ({probe.rule})", rule=probe.rule, target=target)


ROLE_RULES = frozenset(
    {Rule.R0_UNAUTHENTICATED, Rule.R0_NOT_ADMINISTRATOR, Rule.R0_ACTOR_UNIT_CLOSED, Rule.R8_READ_ONLY_ROLE,
     Rule.R16_AUDIT_READERS, Rule.R0_MISCONFIGURED_ACTOR}
)  # fmt: skip


def directory_for(settings: Settings) -> DirectoryLookup:
    """The directory decisions read: the official one (LDAP, behind a short cache). A JSON snapshot is a test
    tool: it is used only where a test, a benchmark or the demo sets ``governance.directory_snapshot``."""
    snapshot = settings.governance.directory_snapshot
    if snapshot is not None:
        if settings.environment == "production":
            raise ConfigError(
                "a directory snapshot is a test tool: unset BRIDGE_GOVERNANCE__DIRECTORY_SNAPSHOT in production",
                field="governance.directory_snapshot",
            )
        return SnapshotDirectory.load(snapshot)
    return LdapDirectory(settings.directory)


def build_context(settings: Settings, *, directory: DirectoryLookup, on_date: dt.date | None = None) -> GovContext:
    """The decision context from the settings: the one place the API, the commands and the worker build it."""
    config = settings.keycloak.config_dir
    return GovContext(
        units=load_units(config / "units.yaml"),
        catalogue=load_catalogue(config / "applications.yaml"),
        directory=directory,
        on_date=on_date or today_vn(),
        it_center_unit=settings.governance.it_center_unit,
    )
