"""The unit tree of BHXH as effective-dated data (``keycloak-config/units.yaml``).

BHXH was reorganised three times in 2025, so a unit is only ever looked up *on a date*: the tree valid that day
decides a person's group path, which province a branch belongs to, and who succeeds a closed unit. Loading
validates the whole file first and names the line of each problem, so a broken file is refused before anything
is written to Keycloak. Everything here is pure.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bridge.errors import ConfigError


class UnitType(enum.StrEnum):
    """Kind of unit (loại đơn vị)."""

    ROOT = "root"  # Bảo hiểm xã hội Việt Nam
    CENTRAL = "central"  # đơn vị nghiệp vụ trung ương
    REGION = "region"  # BHXH khu vực (1 Mar – 30 Jun 2025)
    PROVINCE = "province"  # BHXH tỉnh/thành phố
    BRANCH = "branch"  # BHXH cơ sở
    PROVIDER = "provider"  # đơn vị cung cấp dịch vụ


#: Types whose accounts a provincial administrator's scope is rooted at.
PROVINCIAL_TYPES = frozenset({UnitType.PROVINCE, UnitType.REGION})


@dataclass(frozen=True)
class Unit:
    """One version of a unit, valid from ``valid_from`` to ``valid_to`` (inclusive; None = open)."""

    code: str
    name: str
    type: UnitType
    valid_from: dt.date
    parent: str | None = None
    valid_to: dt.date | None = None
    predecessor: str | None = None
    successor: str | None = None
    mail_domain: str | None = None
    sponsor: str | None = None
    group: str | None = None
    line: int = 0
    #: Further e-mail domains the unit declared (a service provider with several), besides ``mail_domain``.
    mail_domains: tuple[str, ...] = ()
    #: A split (chia tách): the several units that succeed this one; people follow their directory unit.
    successors: tuple[str, ...] = ()
    #: The Keycloak realm of this unit and its descendants when not the tree's default (e.g. service providers
    #: in ``bhxh-doitac``: stricter sessions, a second factor for everyone; docs/decisions/0702).
    realm: str | None = None

    def valid_on(self, day: dt.date) -> bool:
        """True when this version is in force on ``day``."""
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


@dataclass(frozen=True)
class UnitTree:
    """All versions of all units, with the realm and the group root they map to."""

    units: tuple[Unit, ...]
    realm: str = "bhxh"
    group_root: str = "/units"
    central_domain: str = "vss.gov.vn"
    #: Official domains besides the central one and the units' own (units.yaml ``official_domains``).
    extra_domains: tuple[str, ...] = ()
    _by_code: Mapping[str, tuple[Unit, ...]] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[str, list[Unit]] = {}
        for unit in self.units:
            index.setdefault(unit.code, []).append(unit)
        object.__setattr__(self, "_by_code", {code: tuple(v) for code, v in index.items()})

    def official_domains(self) -> frozenset[str]:
        """Every official e-mail domain (Công văn 907: every account is an official e-mail): the central one,
        units.yaml's ``official_domains``, and the domains of every unit version — provinces' and the ones each
        service provider declared. Lower-case."""
        domains = {self.central_domain, *self.extra_domains}
        for unit in self.units:
            domains.update(d for d in (unit.mail_domain, *unit.mail_domains) if d)
        return frozenset(d.strip().lower() for d in domains)

    def get(self, code: str, day: dt.date) -> Unit | None:
        """The version of ``code`` valid on ``day``, or None."""
        return next((u for u in self._by_code.get(code, ()) if u.valid_on(day)), None)

    def require(self, code: str, day: dt.date) -> Unit:
        """Like :meth:`get`, but an unknown or closed unit is an :class:`InvalidInput` naming the code."""
        unit = self.get(code, day)
        if unit is None:
            from bridge.errors import InvalidInput

            raise InvalidInput(f"unknown unit {code!r} on {day:%d/%m/%Y}", field="unit")
        return unit

    def known(self, code: str) -> bool:
        """True when ``code`` exists in any version."""
        return code in self._by_code

    def on(self, day: dt.date) -> dict[str, Unit]:
        """Every unit in force on ``day``, by code."""
        return {u.code: u for u in self.units if u.valid_on(day)}

    def ancestors(self, code: str, day: dt.date) -> list[Unit]:
        """The unit itself, then its parent, up to the root, as valid on ``day``."""
        chain: list[Unit] = []
        current = self.get(code, day)
        while current is not None and len(chain) <= len(self.units):
            chain.append(current)
            current = self.get(current.parent, day) if current.parent else None
        return chain

    def is_under(self, code: str, ancestor: str, day: dt.date) -> bool:
        """True when ``code`` is ``ancestor`` or lies below it in the tree valid on ``day``."""
        return any(u.code == ancestor for u in self.ancestors(code, day))

    def province_of(self, code: str, day: dt.date) -> Unit | None:
        """The province (or 2025 region) a unit belongs to on ``day``; None for central and provider units."""
        return next((u for u in self.ancestors(code, day) if u.type in PROVINCIAL_TYPES), None)

    def group_path(self, code: str, day: dt.date) -> str:
        """Keycloak group path of a unit on ``day``: the root unit is the group root, others nest below it."""
        chain = self.ancestors(code, day)
        if not chain:
            raise ConfigError(f"unit {code!r} is not valid on {day:%d/%m/%Y}")
        segments = [u.group or u.code for u in reversed(chain) if u.type is not UnitType.ROOT]
        return "/".join([self.group_root.rstrip("/"), *segments]) if segments else self.group_root

    def realm_of(self, code: str, day: dt.date) -> str:
        """The realm a unit's people live in on ``day``: the nearest ``realm`` up the tree, else the default."""
        return next((u.realm for u in self.ancestors(code, day) if u.realm), self.realm)

    def realm_names(self) -> tuple[str, ...]:
        """Every realm of the tree: the default first, then the assigned ones in file order."""
        return tuple(dict.fromkeys([self.realm, *(u.realm for u in self.units if u.realm)]))

    def codes_in_realm(self, realm: str) -> tuple[str, ...]:
        """Every unit code (any version) whose realm is ``realm`` on some day it is valid; sorted."""
        return tuple(sorted({u.code for u in self.units if self.realm_of(u.code, u.valid_from) == realm}))

    def deployed_as(self, realm: str) -> UnitTree:
        """The tree as a deployment whose realm is ``realm`` uses it: itself when ``realm`` is the default; else
        (tests and benchmarks give each module or run its own realm) every unit in that one realm."""
        return self if realm == self.realm else self.single_realm(realm)

    def single_realm(self, realm: str) -> UnitTree:
        """This tree with every unit in ``realm`` (a test or benchmark world renamed to its own realm)."""
        return UnitTree(
            units=tuple(dataclasses.replace(u, realm=None) for u in self.units),
            realm=realm,
            group_root=self.group_root,
            central_domain=self.central_domain,
            extra_domains=self.extra_domains,
        )

    def successor_on(self, code: str, day: dt.date) -> str | None:
        """Follow successor links from a closed unit to the unit in force on ``day`` (reorganisation)."""
        seen: set[str] = set()
        current: str | None = code
        while current is not None and current not in seen:
            if self.get(current, day) is not None:
                return current
            seen.add(current)
            versions = self._by_code.get(current, ())
            current = next((u.successor for u in reversed(versions) if u.successor), None)
        return None

    def closing_successors(self, code: str) -> tuple[str, ...]:
        """The successors named by the last closed version of ``code``: one for a merger, several for a split."""
        for unit in reversed(self._by_code.get(code, ())):
            if unit.valid_to is not None and (unit.successors or unit.successor):
                return unit.successors or (unit.successor or "",)
        return ()

    def mail_domain_of(self, code: str, day: dt.date) -> str:
        """The e-mail domain of a unit's staff: the nearest domain up the tree (province, provider), else central."""
        return next((u.mail_domain for u in self.ancestors(code, day) if u.mail_domain), self.central_domain)


_FIELDS = {f for f in Unit.__dataclass_fields__ if f != "line"}


def _nfc(value: Any) -> Any:
    return unicodedata.normalize("NFC", value) if isinstance(value, str) else value


def _as_date(value: Any, *, line: int, name: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"line {line}: {name} {value!r} is not a date (YYYY-MM-DD)", field=name) from None


def parse_units(text: str, *, source: str = "units.yaml") -> UnitTree:
    """Parse and validate a unit tree; every problem is reported with its line, and none is partially kept."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(root, yaml.MappingNode):
        raise ConfigError(f"{source}: expected a mapping with a 'units' list")
    header: dict[str, Any] = {}
    unit_nodes: list[yaml.Node] = []
    for key, value in root.value:
        if key.value == "units" and isinstance(value, yaml.SequenceNode):
            unit_nodes = list(value.value)
        elif isinstance(value, yaml.SequenceNode):
            header[key.value] = [item.value for item in value.value]
        else:
            header[key.value] = value.value
    problems: list[str] = []
    units: list[Unit] = []
    for node in unit_nodes:
        line = node.start_mark.line + 1
        # BaseLoader keeps every scalar a string, so a bad date is our message, not a YAML crash
        raw = yaml.load(yaml.serialize(node), Loader=yaml.BaseLoader)  # noqa: S506
        if isinstance(raw, dict):
            raw = {k: (None if v in ("", "null", "~") else v) for k, v in raw.items()}
        if not isinstance(raw, dict):
            problems.append(f"line {line}: a unit must be a mapping")
            continue
        unknown = set(raw) - _FIELDS
        if unknown:
            problems.append(f"line {line}: unknown field(s) {', '.join(sorted(unknown))}")
            continue
        try:
            units.append(
                Unit(
                    code=str(raw["code"]),
                    name=_nfc(str(raw["name"])),
                    type=UnitType(raw["type"]),
                    valid_from=_as_date(raw.get("valid_from"), line=line, name="valid_from"),
                    valid_to=_as_date(raw["valid_to"], line=line, name="valid_to") if raw.get("valid_to") else None,
                    parent=str(raw["parent"]) if raw.get("parent") is not None else None,
                    predecessor=raw.get("predecessor"),
                    successor=raw.get("successor"),
                    mail_domain=raw.get("mail_domain"),
                    sponsor=raw.get("sponsor"),
                    group=raw.get("group"),
                    line=line,
                    mail_domains=tuple(str(d) for d in raw.get("mail_domains") or ()),
                    successors=tuple(str(c) for c in raw.get("successors") or ()),
                    realm=raw.get("realm"),
                )
            )
        except KeyError as exc:
            problems.append(f"line {line}: missing field {exc.args[0]}")
        except ValueError as exc:
            problems.append(f"line {line}: {exc}")
        except ConfigError as exc:
            problems.append(exc.message)
    problems.extend(validate_units(units))
    if problems:
        raise ConfigError(f"{source}: " + "; ".join(problems))
    return UnitTree(
        units=tuple(units),
        realm=str(header.get("realm", "bhxh")),
        group_root=str(header.get("group_root", "/units")),
        central_domain=str(header.get("central_domain", "vss.gov.vn")),
        extra_domains=tuple(str(d) for d in header.get("official_domains") or ()),
    )


def validate_units(units: Iterable[Unit]) -> list[str]:
    """Structural problems of a unit list: duplicates, overlaps, unknown references, cycles, bad dates."""
    units = list(units)
    problems: list[str] = []
    by_code: dict[str, list[Unit]] = {}
    for unit in units:
        if unit.valid_to is not None and unit.valid_to < unit.valid_from:
            problems.append(f"line {unit.line}: unit {unit.code} ends ({unit.valid_to}) before it starts")
        for earlier in by_code.get(unit.code, []):
            if earlier.valid_from == unit.valid_from:
                problems.append(f"line {unit.line}: duplicate code {unit.code} (first at line {earlier.line})")
            elif _overlap(earlier, unit):
                problems.append(f"line {unit.line}: overlapping validity for {unit.code} (with line {earlier.line})")
        by_code.setdefault(unit.code, []).append(unit)
    for unit in units:
        for ref_name in ("parent", "predecessor", "successor", "sponsor"):
            ref = getattr(unit, ref_name)
            if ref is not None and ref not in by_code:
                problems.append(f"line {unit.line}: unknown {ref_name} {ref!r} of unit {unit.code}")
        for ref in unit.successors:
            if ref not in by_code:
                problems.append(f"line {unit.line}: unknown successor {ref!r} of unit {unit.code} (successors)")
        if unit.successors and unit.successor is not None:
            problems.append(f"line {unit.line}: unit {unit.code} has both successor and successors (merger or split)")
        if unit.parent is None and unit.type is not UnitType.ROOT:
            problems.append(f"line {unit.line}: unit {unit.code} has no parent")
    for unit in units:
        seen = [unit.code]
        current = unit
        while current.parent is not None and current.parent in by_code:
            if current.parent in seen:
                problems.append(f"line {unit.line}: cycle {' → '.join([*seen, current.parent])}")
                break
            seen.append(current.parent)
            current = by_code[current.parent][0]
    return problems


def _overlap(a: Unit, b: Unit) -> bool:
    far = dt.date.max
    return a.valid_from <= (b.valid_to or far) and b.valid_from <= (a.valid_to or far)


def load_units(path: Path) -> UnitTree:
    """Read and validate ``units.yaml``."""
    return parse_units(path.read_text(encoding="utf-8"), source=path.name)
