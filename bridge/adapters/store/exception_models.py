"""The table of approved exception accounts (tài khoản ngoại lệ): outsiders' accounts the bridge created.

Công văn 907 allows an account for a person outside the official directory only with leadership approval. The
approval itself is an ``approval_requests`` row; this table keeps what the approval set in motion: the local
(not federated) Keycloak account, its unit group, its end date, and the lock decision that ends it on that date.
The schema is owned by the Alembic revision ``exc_0001``.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bridge.adapters.store.models import CODE, EMAIL, Base


class ExceptionAccount(Base):
    """One approved exception account and where it stands."""

    __tablename__ = "exception_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: The leadership approval (ngoại lệ, R14) the account rests on; one account per approval.
    approval_id: Mapped[int] = mapped_column(ForeignKey("approval_requests.id"), unique=True)
    email: Mapped[str] = mapped_column(String(EMAIL), index=True)
    full_name: Mapped[str] = mapped_column(String(200))
    unit_code: Mapped[str] = mapped_column(String(CODE), index=True)
    #: The unit group the account is placed in (``/units/…``), fixed when the approval was given.
    unit_group: Mapped[str] = mapped_column(String(300))
    #: Ngày kết thúc: the Vietnamese calendar day on which the worker disables the account.
    end_date: Mapped[dt.date]
    #: The grant the approval made (its role group), whose job creates the account in Keycloak.
    grant_id: Mapped[int] = mapped_column(ForeignKey("grants.id"))
    #: The lock decision (reason ``exception_ended``) that disables the account on ``end_date``.
    lock_decision_id: Mapped[int | None] = mapped_column(ForeignKey("lock_decisions.id"))
    approved_at: Mapped[dt.datetime]
    #: Keycloak's id of the account once the worker created it.
    user_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime | None]
    #: When Keycloak was asked to send the "set your password" e-mail (its own required action).
    email_sent_at: Mapped[dt.datetime | None]
    #: approved (account not yet in Keycloak) | active | ended
    status: Mapped[str] = mapped_column(String(16), index=True)
