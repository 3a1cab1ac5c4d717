"""Keycloak LOGIN events copied into the store, so "accounts unused for N days" outlives Keycloak's expiry.

Keycloak keeps events for ``eventsExpiration`` (90 days in realm.yaml); a review asking about 180 days of
inactivity would see nothing. Ingestion is idempotent — each event is keyed by Keycloak's id (or a hash of its
fields when the server gives none), so overlapping pages and repeated runs add nothing twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bridge.adapters.store.ledger import sha256_hex
from bridge.adapters.store.report_models import LoginEvent


def event_key(event: dict[str, Any]) -> str:
    """Keycloak's event id, or the hash of the fields that make a login unique."""
    if event.get("id"):
        return str(event["id"])[:64]
    return sha256_hex({k: event.get(k) for k in ("time", "userId", "sessionId", "clientId", "ipAddress")})


def ingest_login_events(session: Session, *, events: Iterable[dict[str, Any]]) -> int:
    """Store the LOGIN events not stored yet; returns how many were added."""
    known = set(session.scalars(select(LoginEvent.event_key)))
    added = 0
    for event in events:
        if event.get("type") != "LOGIN":
            continue
        key = event_key(event)
        if key in known:
            continue
        known.add(key)
        details = event.get("details") or {}
        session.add(
            LoginEvent(
                event_key=key,
                at=dt.datetime.fromtimestamp(int(event["time"]) / 1000, dt.UTC),
                user_id=str(event.get("userId") or ""),
                username=str(details.get("username") or event.get("userId") or "").lower(),
                client_id=str(event.get("clientId") or ""),
                ip_address=str(event.get("ipAddress") or ""),
                session_id=str(event.get("sessionId") or ""),
            )
        )
        added += 1
    session.flush()
    return added


def last_logins(session: Session) -> dict[str, dt.datetime]:
    """User id → time of their latest stored login."""
    query = select(LoginEvent.user_id, func.max(LoginEvent.at)).group_by(LoginEvent.user_id)
    return {user: (at if at.tzinfo else at.replace(tzinfo=dt.UTC)) for user, at in session.execute(query)}
