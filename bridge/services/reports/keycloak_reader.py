"""Wiring shared by the CLI and the API: the Keycloak reader of reviews and login ingestion.

Both front ends call these with the bridge's own service-account client (view-users, query-groups,
view-events), never the master realm's administrator.
"""

from __future__ import annotations

import datetime as dt
from functools import partial

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bridge.adapters.keycloak.account_facts import read_account_facts, read_login_events
from bridge.adapters.keycloak.admin import KeycloakAdmin
from bridge.adapters.store.report_models import LoginEvent
from bridge.domain.catalogue import role_group_path
from bridge.domain.policy import Action, Actor
from bridge.services.context import GovContext, require_role
from bridge.services.reports.logins import ingest_login_events
from bridge.services.reports.review import FactsReader


def keycloak_reader(admin: KeycloakAdmin) -> FactsReader:
    """The review's Keycloak side, read through ``admin``."""
    return partial(read_account_facts, admin, path_of=role_group_path)


def ingest_logins(session: Session, *, ctx: GovContext | None = None, actor: Actor | None, admin: KeycloakAdmin) -> int:
    """Copy Keycloak's LOGIN events since the newest stored one (a day of overlap) into the store.

    ``actor=None`` is the bridge worker itself; a person must be a central reader (R16).
    """
    if actor is not None:
        if ctx is None:
            raise ValueError("a person ingesting login events needs the decision context")
        require_role(ctx, actor, Action.READ_AUDIT, target="login-events")
    newest = session.scalar(select(func.max(LoginEvent.at)))
    since = (newest - dt.timedelta(days=1)).date() if newest is not None else None
    return ingest_login_events(session, events=read_login_events(admin, since=since))
