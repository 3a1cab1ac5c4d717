"""Phụ lục 01 through the console: preview every row, then record the file all or nothing (decision 0613).

A preview rehearses the whole import (:func:`bridge.services.locks.decisions.import_phu_luc`: validation, the
scope check of every row, the recording) inside a savepoint that is rolled back, so what the page shows is
exactly what confirming will do, refusals included, and nothing is kept. An accepted file is held in the store
(``console_uploads``), keyed by its sha256 and its uploader, until it is confirmed: the confirmation names only
the hash, the rows are read again from the held bytes and the import runs again under the same rules, so no row
comes from the browser twice and any worker of ``bridge serve`` can take the confirmation.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bridge.adapters.directory.lookup import normalise_email
from bridge.adapters.store.console_models import ConsoleUpload
from bridge.domain.policy import Actor
from bridge.errors import InvalidInput, NotFound
from bridge.services.context import GovContext
from bridge.services.locks.decisions import ImportResult, check_phu_luc, import_phu_luc
from bridge.services.locks.intake import ImportCheck, ImportRejected

#: The largest file accepted (a province's list is a few hundred rows: kilobytes).
MAX_BYTES = 5 * 1024 * 1024
#: A held file not confirmed within this long is dropped at the next upload.
KEEP = dt.timedelta(hours=2)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def preview_phu_luc(session: Session, *, ctx: GovContext, actor: Actor, data: bytes, filename: str) -> ImportCheck:
    """Every row the file would record, in file order, or :class:`ImportRejected` naming each row, column and
    problem. The import is rehearsed and rolled back; then the file is held for :func:`confirm_phu_luc`."""
    if len(data) > MAX_BYTES:
        raise InvalidInput(f"tệp lớn hơn {MAX_BYTES // 1024 // 1024} MB / file larger than 5 MB", field="file")
    check = check_phu_luc(session, ctx=ctx, data=data, filename=filename)
    if check.problems:
        raise ImportRejected(check.problems)
    rehearsal = session.begin_nested()
    try:
        import_phu_luc(session, ctx=ctx, actor=actor, data=data, filename=filename)
    finally:
        rehearsal.rollback()
    owner = normalise_email(actor.email)
    session.execute(delete(ConsoleUpload).where(ConsoleUpload.uploaded_at < _now() - KEEP))
    session.execute(delete(ConsoleUpload).where(ConsoleUpload.owner == owner, ConsoleUpload.sha256 == check.sha256))
    session.add(ConsoleUpload(owner=owner, sha256=check.sha256, filename=filename[:255], data=data,
                              uploaded_at=_now()))  # fmt: skip
    return check


def held_upload(session: Session, *, actor: Actor, sha256: str) -> ConsoleUpload:
    """The file this administrator previewed with hash ``sha256`` (404: none, confirmed already, or another's)."""
    found = session.scalars(
        select(ConsoleUpload).where(ConsoleUpload.owner == normalise_email(actor.email), ConsoleUpload.sha256 == sha256)
    ).first()
    if found is None or hashlib.sha256(found.data).hexdigest() != sha256:
        raise NotFound(
            "không có tệp Phụ lục 01 đang chờ xác nhận với mã này / no Phụ lục 01 file waiting for confirmation "
            "with this hash",
            field="sha256",
        )
    return found


def confirm_phu_luc(session: Session, *, ctx: GovContext, actor: Actor, sha256: str) -> ImportResult:
    """Record the held file: every row or none (the import validates and scope-checks it again)."""
    held = held_upload(session, actor=actor, sha256=sha256)
    result = import_phu_luc(session, ctx=ctx, actor=actor, data=held.data, filename=held.filename)
    session.delete(held)
    return result
