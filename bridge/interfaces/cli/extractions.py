"""``bridge extraction …``: data-extraction requests (Công văn 907) from the command line.

The commands call the same service functions as the ``/extractions`` routes; each commits its change with its
ledger row, and a refusal (for example the IT Center recording a delivery before both approvals) is printed
with its rule and written to the ledger as a ``refused`` row.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from bridge.adapters.store.extraction_models import ExtractionRequest
from bridge.clock import format_vn
from bridge.domain.extraction import LABELS_VI, ExtractionDraft, ExtractionStatus, ScopeItem
from bridge.errors import InvalidInput
from bridge.interfaces.cli.common import UrlOpt, act_as, console, fail
from bridge.services import extractions
from bridge.services.context import load_actor

extraction_app = typer.Typer(help="Yêu cầu khai thác dữ liệu / data-extraction requests (Công văn 907).",
                             no_args_is_help=True)  # fmt: skip
AsOpt = Annotated[str, typer.Option("--as", help="E-mail of the person acting.")]
IdArg = Annotated[int, typer.Argument(help="The request's number.")]


def _show(row: ExtractionRequest) -> None:
    label = LABELS_VI[ExtractionStatus(row.status)]
    delivered = f" — {row.channel} sha256:{row.delivered_sha256[:12]}…" if row.delivered_sha256 else ""
    console.print(f"#{row.id} {row.unit_code} CV {row.letter_number} ({format_vn(row.letter_date)}) "
                  f"[{row.status}: {label}] hủy trước / delete by {format_vn(row.retention_until)}{delivered}",
                  markup=False, highlight=False)  # fmt: skip


def _act(url: str | None, actor: str, action: str, work: Any) -> Any:
    return act_as(url, actor, action, work, default_target="extraction")


def draft_from_json(data: dict[str, Any]) -> ExtractionDraft:
    """A draft from a request file (the same fields as ``POST /extractions``); names a missing field."""
    try:
        return ExtractionDraft(
            unit_code=str(data["unit_code"]), letter_number=str(data["letter_number"]),
            letter_date=dt.date.fromisoformat(data["letter_date"]), purpose=str(data["purpose"]),
            data_scope=tuple(ScopeItem(str(i["system"]), tuple(i["tables"]), tuple(i["fields"]))
                             for i in data["data_scope"]),
            period_from=dt.date.fromisoformat(data["period_from"]), period_to=dt.date.fromisoformat(data["period_to"]),
            format=str(data["format"]), recipients=tuple(str(r) for r in data["recipients"]),
            legal_basis=str(data["legal_basis"]), retention_until=dt.date.fromisoformat(data["retention_until"]),
        )  # fmt: skip
    except KeyError as exc:
        raise InvalidInput(f"thiếu trường / missing field {exc.args[0]}", field=str(exc.args[0])) from None
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"tệp yêu cầu không hợp lệ / invalid request file: {exc}", field="file") from None


@extraction_app.command("file")
def file_command(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The request as JSON (API fields).")],
    actor: AsOpt,
    url: UrlOpt = None,
) -> None:
    """File a request of a unit in my scope; it waits for its unit's leadership, then Lãnh đạo Ngành."""
    try:
        draft = draft_from_json(json.loads(path.read_text(encoding="utf-8")))
    except (InvalidInput, json.JSONDecodeError) as exc:
        raise fail(exc if isinstance(exc, InvalidInput) else InvalidInput(str(exc), field="file")) from None
    _show(_act(url, actor, "extraction.request", lambda s, ctx: extractions.file_request(
        s, ctx=ctx, actor=load_actor(s, email=actor), draft=draft)))  # fmt: skip


def _decide(extraction_id: int, actor: str, url: str | None, *, approve: bool) -> None:
    _show(_act(url, actor, "extraction.approve" if approve else "extraction.reject",
               lambda s, ctx: extractions.approve_request(s, ctx=ctx, actor=load_actor(s, email=actor),
                                                          extraction_id=extraction_id, approve=approve)))  # fmt: skip


@extraction_app.command("approve")
def approve_command(extraction_id: IdArg, actor: AsOpt, url: UrlOpt = None) -> None:
    """Approve, as the leadership the request waits for (its unit's, then Lãnh đạo Ngành)."""
    _decide(extraction_id, actor, url, approve=True)


@extraction_app.command("reject")
def reject_command(extraction_id: IdArg, actor: AsOpt, url: UrlOpt = None) -> None:
    """Reject, as the leadership the request waits for."""
    _decide(extraction_id, actor, url, approve=False)


@extraction_app.command("queue")
def queue_command(actor: AsOpt, url: UrlOpt = None) -> None:
    """The IT Center's queue: requests with both approvals, oldest first."""
    rows = _act(url, actor, "extraction.queue", lambda s, ctx: extractions.it_center_queue(
        s, ctx=ctx, actor=load_actor(s, email=actor)))  # fmt: skip
    for row in rows:
        _show(row)
    console.print(f"{len(rows)} yêu cầu chờ xử lý / requests waiting")


@extraction_app.command("list")
def list_command(actor: AsOpt, status: str | None = None, url: UrlOpt = None) -> None:
    """Requests of the units in my scope, newest first."""
    for row in _act(url, actor, "extraction.list", lambda s, ctx: extractions.list_requests(
            s, ctx=ctx, actor=load_actor(s, email=actor), status=status, limit=1000)):  # fmt: skip
        _show(row)


@extraction_app.command("fulfil")
def fulfil_command(
    extraction_id: IdArg,
    actor: AsOpt,
    channel: Annotated[str, typer.Option(help="How the file left: sftp, email, qldl-portal, usb-encrypted, paper.")],
    file: Annotated[Path | None, typer.Option(exists=True, dir_okay=False, help="The delivered file.")] = None,
    sha256: Annotated[str | None, typer.Option(help="SHA-256 of the delivered file (instead of --file).")] = None,
    url: UrlOpt = None,
) -> None:
    """The IT Center records the delivery: the file's SHA-256 (computed from --file) and the channel."""
    if (file is None) == (sha256 is None):
        raise fail(InvalidInput("give --file or --sha256 / one of --file, --sha256", field="file"))
    digest = hashlib.sha256(file.read_bytes()).hexdigest() if file is not None else str(sha256)
    _show(_act(url, actor, "extraction.fulfil", lambda s, ctx: extractions.fulfil_request(
        s, ctx=ctx, actor=load_actor(s, email=actor), extraction_id=extraction_id, file_sha256=digest,
        channel=channel)))  # fmt: skip


@extraction_app.command("refuse")
def refuse_command(
    extraction_id: IdArg, actor: AsOpt, reason: Annotated[str, typer.Option(help="Why.")], url: UrlOpt = None
) -> None:
    """The IT Center refuses an approved request, with its reason."""
    _show(_act(url, actor, "extraction.refuse", lambda s, ctx: extractions.refuse_request(
        s, ctx=ctx, actor=load_actor(s, email=actor), extraction_id=extraction_id, reason=reason)))  # fmt: skip


@extraction_app.command("confirm-deletion")
def confirm_deletion_command(
    extraction_id: IdArg, actor: AsOpt, note: Annotated[str, typer.Option(help="How it was deleted.")] = "",
    url: UrlOpt = None,
) -> None:  # fmt: skip
    """The requesting unit confirms the delivered data was deleted."""
    _show(_act(url, actor, "extraction.deletion_confirmed", lambda s, ctx: extractions.confirm_deletion(
        s, ctx=ctx, actor=load_actor(s, email=actor), extraction_id=extraction_id, note=note)))  # fmt: skip


@extraction_app.command("deletions")
def deletions_command(
    actor: AsOpt, overdue: Annotated[bool, typer.Option("--overdue", help="Overdue only.")] = False,
    url: UrlOpt = None,
) -> None:  # fmt: skip
    """Deletion confirmations due within 30 days, or overdue, in my scope."""
    found = _act(url, actor, "extraction.deletions", lambda s, ctx: extractions.deletions(
        s, ctx=ctx, actor=load_actor(s, email=actor), overdue_only=overdue))  # fmt: skip
    for row, state in found:
        console.print(f"[{'QUÁ HẠN / overdue' if state.value == 'overdue' else 'đến hạn / due'}] ", end="")
        _show(row)
    console.print(f"{len(found)} xác nhận hủy chờ / deletion confirmations outstanding")
