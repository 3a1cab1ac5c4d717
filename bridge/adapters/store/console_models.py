"""The console's sessions (phiên đăng nhập bảng điều khiển), kept in the store so every worker sees them.

``bridge serve`` runs several uvicorn workers; a back-channel logout from Keycloak reaches one of them, and the
next click of that browser may reach another. With the sessions in this table, ending one ends it everywhere
(docs/decisions/0612). The row is keyed by the sha256 of the session id, so the table alone does not let anyone
take over a session. The schema is owned by the Alembic revision ``ui_0001``, with the Phụ lục 01 files held
between their preview and their confirmation (:class:`ConsoleUpload`).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Float, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bridge.adapters.store.models import EMAIL, Base


class ConsoleSessionRow(Base):
    """One administrator logged in to the console."""

    __tablename__ = "console_sessions"

    #: sha256 (hex) of the random id the browser's signed cookie holds.
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    email: Mapped[str] = mapped_column(String(EMAIL), index=True)
    #: Keycloak's session (``sid`` of the ID token): a back-channel logout names it.
    keycloak_sid: Mapped[str | None] = mapped_column(String(64), index=True)
    id_token: Mapped[str] = mapped_column(Text)
    csrf: Mapped[str] = mapped_column(String(64))
    #: Seconds since the epoch of the last request (wall clock: shared by every worker).
    last_seen: Mapped[float] = mapped_column(Float, index=True)


class ConsoleUpload(Base):
    """A Phụ lục 01 file between its preview and its confirmation (decision 0613).

    The confirmation names only the file's sha256; the rows are read again from these bytes and validated again
    when recorded, so nothing the browser sends back is trusted. One administrator's file is theirs only.
    """

    __tablename__ = "console_uploads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    owner: Mapped[str] = mapped_column(String(EMAIL), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_at: Mapped[dt.datetime]
