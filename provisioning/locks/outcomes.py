"""What one attempt at one scheduler job came to, for lock jobs and grant membership jobs alike."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class JobOutcome:
    """One attempt at one job.

    Lock jobs (``apply``, ``reinstate``) name their decision and end ``applied``, ``skipped`` (nothing to do),
    ``failed`` (retried) or ``lost`` (another worker recorded it). Membership jobs (``join``, ``leave``) name
    their grant and end ``joined``, ``left``, ``kept`` (another active grant holds the role group), ``absent``
    (no Keycloak account to leave), ``failed`` or ``lost``.
    """

    job_id: int
    decision_id: int | None
    kind: str
    status: str
    error: str | None = None
    grant_id: int | None = None
