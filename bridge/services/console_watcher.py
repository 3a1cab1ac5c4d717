"""Watcher of Keycloak admin events: the console stays inside the regulation even where FGAP v2 cannot.

Fine-grained admin permissions v2 do not cover every path for federated users (decision 0003), and an
administrator holding a legacy realm-management role bypasses them entirely. So every membership and
enabled/disabled change made in the console is read back from Keycloak's admin events, judged by the same
scope policy as the API (:func:`bridge.domain.policy.decide`, actor taken from the event), written to the
audit ledger, and — when the policy refuses it — reverted at once, with a ledger row saying so.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bridge.adapters.keycloak.admin import KeycloakAdmin
from bridge.adapters.store import ledger
from bridge.domain.policy import Action, Decision, Target, decide
from bridge.domain.units import UnitTree
from bridge.services.context import configured_it_center_unit, load_actor

WATCHED = frozenset({("USER", "UPDATE"), ("GROUP_MEMBERSHIP", "CREATE"), ("GROUP_MEMBERSHIP", "DELETE")})


@dataclass(frozen=True)
class ConsoleChange:
    """One console change as the policy sees it (derived from an admin event; pure data)."""

    event_time_ms: int
    actor_user_id: str
    actor_realm: str
    action: Action
    user_id: str
    group_path: str | None
    group_id: str | None
    enabled: bool | None


@dataclass(frozen=True)
class Verdict:
    """What the watcher did with one change."""

    change: ConsoleChange
    actor: str
    target: str
    decision: Decision
    reverted: bool
    seconds_to_revert: float | None


def parse_event(event: dict[str, Any]) -> ConsoleChange | None:
    """The console change an admin event describes, or None when the bridge does not watch it. Pure."""
    kind = (event.get("resourceType"), event.get("operationType"))
    if kind not in WATCHED:
        return None
    parts = str(event.get("resourcePath", "")).split("/")
    if len(parts) < 2 or parts[0] != "users":
        return None
    rep: dict[str, Any] = {}
    if event.get("representation"):
        try:
            rep = json.loads(event["representation"])
        except ValueError:
            rep = {}
    auth = event.get("authDetails", {})
    if kind == ("USER", "UPDATE"):
        if "enabled" not in rep:
            return None
        action = Action.UNLOCK if rep["enabled"] else Action.LOCK
        group_path = group_id = None
    else:
        if len(parts) < 4:
            return None
        action = Action.GRANT if kind[1] == "CREATE" else Action.REVOKE
        group_id, group_path = parts[3], rep.get("path")
    return ConsoleChange(
        event_time_ms=int(event.get("time", 0)),
        actor_user_id=str(auth.get("userId", "")),
        actor_realm=str(auth.get("realmId", "")),
        action=action,
        user_id=parts[1],
        group_path=group_path,
        group_id=group_id,
        enabled=rep.get("enabled") if kind[0] == "USER" else None,
    )


def _unit_of_group(path: str | None) -> str | None:
    if path and path.startswith("/units/"):
        return path.rstrip("/").rsplit("/", 1)[-1]
    return None


@dataclass
class ConsoleWatcher:
    """Polls admin events with the bridge's own service account and enforces the scope policy on them."""

    admin: KeycloakAdmin
    sessions: sessionmaker[Session]
    units: UnitTree
    it_center_unit: str = field(default_factory=configured_it_center_unit)
    since_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    ignore_user_ids: frozenset[str] = frozenset()
    _seen: set[tuple[int, str]] = field(default_factory=set)

    def _email(self, user_id: str) -> tuple[str, str | None]:
        user = self.admin.get(f"users/{user_id}")
        unit = (user.get("attributes") or {}).get("unit_code", [None])[0]
        return str(user.get("email") or user.get("username")), unit

    def _revert(self, change: ConsoleChange) -> None:
        if change.action in (Action.LOCK, Action.UNLOCK):
            self.admin.put(f"users/{change.user_id}", {"enabled": change.action is Action.LOCK})
        elif change.action is Action.GRANT:
            self.admin.delete(f"users/{change.user_id}/groups/{change.group_id}")
        else:
            self.admin.put(f"users/{change.user_id}/groups/{change.group_id}", {})

    def judge(self, change: ConsoleChange, *, day: dt.date, session: Session) -> tuple[str, str, Decision]:
        """Actor, target and the policy's decision for one change (reads Keycloak and the store, writes nothing)."""
        target_email, target_unit = self._email(change.user_id)
        if change.actor_realm != self.units.realm:
            operator = Decision(True, "W0-platform-operator", "Quản trị nền tảng (realm master) / platform operator")
            return f"master:{change.actor_user_id}", target_email, operator
        actor_email, _ = self._email(change.actor_user_id)
        actor = load_actor(session, email=actor_email)
        decision = decide(
            actor,
            change.action,
            Target(email=target_email, unit_code=target_unit),
            day,
            self.units,
            it_center_unit=self.it_center_unit,
        )
        destination = _unit_of_group(change.group_path)
        if decision.allowed and destination and change.action is Action.GRANT:
            decision = decide(
                actor,
                change.action,
                Target(email=target_email, unit_code=destination),
                day,
                self.units,
                it_center_unit=self.it_center_unit,
            )
        return actor_email, target_email, decision

    def poll_once(self, *, day: dt.date, on_verdict: Callable[[Verdict], None] | None = None) -> list[Verdict]:
        """Read new admin events, ledger each watched change, revert the refused ones."""
        events = self.admin.get("admin-events", first=0, max=500)
        verdicts: list[Verdict] = []
        for event in sorted(events, key=lambda e: int(e.get("time", 0))):
            key = (int(event.get("time", 0)), str(event.get("id") or event.get("resourcePath")))
            if key[0] < self.since_ms or key in self._seen:
                continue
            self._seen.add(key)
            change = parse_event(event)
            if change is None or change.actor_user_id in self.ignore_user_ids:
                continue
            with self.sessions() as session, session.begin():
                actor, target, decision = self.judge(change, day=day, session=session)
                reverted = False
                if not decision.allowed:
                    self._revert(change)
                    reverted = True
                ledger.append(
                    session,
                    actor=actor,
                    action=f"console:{change.action.value}",
                    target=target,
                    outcome="allowed" if decision.allowed else "refused",
                    rule=decision.rule,
                    detail={
                        "event_time_ms": change.event_time_ms,
                        "group": change.group_path,
                        "reverted": reverted,
                        "reason": decision.reason,
                    },
                )
            lag = time.time() - change.event_time_ms / 1000 if reverted else None
            verdict = Verdict(change, actor, target, decision, reverted, lag)
            verdicts.append(verdict)
            if on_verdict is not None:
                on_verdict(verdict)
        return verdicts

    def watch(self, *, day: Callable[[], dt.date], interval_s: float = 1.0, stop: Callable[[], bool]) -> None:
        """Poll until ``stop()`` says so."""
        while not stop():
            self.poll_once(day=day())
            time.sleep(interval_s)
