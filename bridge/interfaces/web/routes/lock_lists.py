"""Phụ lục 01: upload a list (.xlsx or .csv), see every row it would record, then confirm it — all or nothing.

The preview is the import itself, rehearsed and rolled back (:mod:`bridge.services.locks.upload`); a rejected
file shows its row / column / problem table and nothing is recorded or held. The confirmation form carries only
the file's sha256: the rows are read again from the file the store holds for this administrator (decision 0613).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from bridge.errors import BridgeError
from bridge.interfaces.api.deps import ContextDep, SessionDep, WakeDep
from bridge.interfaces.api.routes.locks import wake_after_commit
from bridge.interfaces.api.schemas import MAX_ROW_ID
from bridge.interfaces.web.deps import AdminDep, CsrfDep
from bridge.interfaces.web.forms import Line, checked
from bridge.interfaces.web.inline import roll_back_refusal
from bridge.interfaces.web.render import render
from bridge.services.locks import upload
from bridge.services.locks.intake import GrantRow, ImportRejected, LockRow, RowProblem

router = APIRouter()


def _refused(request: Request, session: Any, exc: BridgeError, filename: str) -> HTMLResponse:
    problems: list[RowProblem] = exc.problems if isinstance(exc, ImportRejected) else []
    shown = roll_back_refusal(session, request, exc)
    status = int(shown.pop("status") or 400)
    return render(request, "lock_lists.html", status_code=status, active="lock_lists", problems=problems,
                  filename=filename, **shown)  # fmt: skip


def kind_of(row: Any) -> str:
    """The row's "Đề nghị" as the page shows it: lock, grant or unlock."""
    return "lock" if isinstance(row, LockRow) else "grant" if isinstance(row, GrantRow) else "unlock"


@router.get("/lock-lists", name="lock_lists")
def lock_lists(
    request: Request,
    actor: AdminDep,
    locks: Annotated[int | None, Query(ge=0, le=MAX_ROW_ID)] = None,
    grants: Annotated[int | None, Query(ge=0, le=MAX_ROW_ID)] = None,
    unlocks: Annotated[int | None, Query(ge=0, le=MAX_ROW_ID)] = None,
) -> HTMLResponse:
    """The upload form (and, after a confirmation, what was recorded)."""
    done = None if locks is None else {"locks": locks, "grants": grants or 0, "unlocks": unlocks or 0}
    return render(request, "lock_lists.html", active="lock_lists", done=done)


@router.post("/lock-lists", name="lock_list_preview")
async def preview(
    request: Request, session: SessionDep, ctx: ContextDep, actor: AdminDep, _csrf: CsrfDep,
    file: Annotated[UploadFile, File()],
) -> HTMLResponse:  # fmt: skip
    """Every row the file would record, and the button that records them; or the file's problems."""
    data = await file.read(upload.MAX_BYTES + 1)
    filename = checked(file.filename or "phu-luc-01", field="file")

    def rehearse() -> HTMLResponse:
        try:
            check = upload.preview_phu_luc(session, ctx=ctx, actor=actor, data=data, filename=filename)
        except BridgeError as exc:
            return _refused(request, session, exc, filename)
        return render(request, "lock_list_preview.html", active="lock_lists", check=check, rows=check.in_file_order,
                      kind_of=kind_of, filename=filename)  # fmt: skip

    return await run_in_threadpool(rehearse)


@router.post("/lock-lists/confirm", name="lock_list_confirm")
def confirm(
    request: Request, session: SessionDep, ctx: ContextDep, actor: AdminDep, wake: WakeDep, _csrf: CsrfDep,
    sha256: Annotated[Line, Form(min_length=64, max_length=64, pattern="^[0-9a-f]{64}$")],
) -> Response:  # fmt: skip
    """Record the previewed file (every row or none)."""
    try:
        result = upload.confirm_phu_luc(session, ctx=ctx, actor=actor, sha256=sha256)
    except ImportRejected as exc:
        return _refused(request, session, exc, "")
    wake_after_commit(wake, session)
    counts = f"locks={len(result.locks)}&grants={len(result.grants)}&unlocks={len(result.early_endings)}"
    return RedirectResponse(f"/ui/lock-lists?{counts}", status_code=303)
