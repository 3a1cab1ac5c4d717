"""Request and response bodies of the API, named by role (``GrantCreate``, ``GrantPublic``).

Request bodies forbid unknown fields: a ``unit_code`` or ``scope`` smuggled into a grant request is a 422, not
silently ignored, because the unit of a grant comes from the directory, never from the caller.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator

from bridge.domain.text import clean_text

EmailField = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
CodeField = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")


#: The largest row id the store can hold (PostgreSQL ``integer``). A larger id names no row: it is refused as
#: input (422) instead of reaching the database, where it was a server error (found by schemathesis, issue 17).
MAX_ROW_ID = 2**31 - 1
#: A row id in a URL path.
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
#: How many rows a list skips.
Offset = Annotated[int, Query(ge=0, le=MAX_ROW_ID)]


def _clean_text(value: Any) -> Any:
    """Text as the bridge keeps it (:func:`bridge.domain.text.clean_text`: NFC, no control characters but tab
    and line breaks), in a string or a list of strings."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [_clean_text(item) for item in value]
    return value


class Strict(BaseModel):
    """Base of request bodies: unknown fields and control characters in text are refused; text is made NFC
    (issue 17: a decision number typed in NFD was stored in NFD)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _nfc_without_control_characters(cls, value: Any) -> Any:
        return _clean_text(value)


class Public(BaseModel):
    """Base of response bodies, read from ORM rows and dataclasses."""

    model_config = ConfigDict(from_attributes=True)


class GrantCreate(Strict):
    """A grant request: one row of Phụ lục 01 (person, application, role group)."""

    email: str = EmailField
    application: str = CodeField
    role_group: str = CodeField
    #: The request's reference (e.g. "Phụ lục 01 số 12/2025, dòng 3").
    request_ref: str | None = Field(default=None, max_length=64)
    #: A leadership-approved exception covering an ineligible person.
    exception_id: int | None = Field(default=None, ge=1, le=MAX_ROW_ID)


class GrantPublic(Public):
    id: int
    email: str
    application: str
    role_group: str
    unit_code: str
    granted_by: str
    granted_at: dt.datetime
    request_id: str
    approval_id: int | None
    revoked_at: dt.datetime | None
    revoked_by: str | None
    #: When the role group reached Keycloak (None until the worker applied it).
    applied_at: dt.datetime | None = None
    #: When the role group was taken away in Keycloak after the revocation.
    removed_at: dt.datetime | None = None


class PersonPublic(Public):
    email: str
    full_name: str
    unit_code: str
    source: str
    active: bool
    administrator: bool


class ProviderCreate(Strict):
    """Registration of a service-provider person (IT Center only)."""

    email: str = EmailField
    full_name: str = Field(min_length=1, max_length=200)
    provider_unit: str = CodeField


class ExceptionCreate(Strict):
    """A request to leadership for a grant to a person who is not eligible."""

    email: str = EmailField
    unit_code: str = CodeField
    application: str = CodeField
    role_group: str = CodeField
    reason: str = Field(min_length=10, max_length=1000)


class ExceptionAccountCreate(Strict):
    """A request to leadership for an account of a person outside the directory (Công văn 907), until a date."""

    email: str = EmailField
    #: Họ và tên, family name first.
    full_name: str = Field(min_length=2, max_length=200)
    unit_code: str = CodeField
    application: str = CodeField
    role_group: str = CodeField
    #: Ngày kết thúc: the day the worker disables the account.
    end_date: dt.date
    reason: str = Field(min_length=10, max_length=1000)


class DecisionCreate(Strict):
    approve: bool


class DecisionPublic(Public):
    approver: str
    approved: bool
    subject_hash: str
    decided_at: dt.datetime


class ApprovalPublic(Public):
    id: int
    kind: str
    subject: dict[str, Any]
    subject_hash: str
    unit_code: str
    requested_by: str
    requested_at: dt.datetime
    required_approvals: int
    status: str
    decisions: list[DecisionPublic]


class ExplainPublic(BaseModel):
    actor: str
    action: str
    email: str
    allowed: bool
    rule: str
    reason: str


class LedgerRowPublic(Public):
    id: int
    at: dt.datetime
    actor: str
    action: str
    target: str
    outcome: str
    rule: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str


class VerificationPublic(BaseModel):
    rows: int
    head: str
    intact: bool
    broken_id: int | None = None
    problem: str | None = None
