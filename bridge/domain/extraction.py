"""Data-extraction requests (yêu cầu khai thác dữ liệu, Công văn 907/BHXH-CNTT): what a request must say, the
order of its steps, and when its deletion confirmation is due. Pure: no I/O, no clock.

Công văn 907 found units sending requests "without the leadership's approval, without an official letter,
without a form describing the data fields needed". So a request is complete or refused (every missing field
named at once), and its state machine lets it reach the IT Center's queue only after two approvals: the
requesting unit's leadership, then BHXH Việt Nam's leadership (Lãnh đạo Ngành). Who may take each step is the
scope policy's business (``bridge.domain.policy``, rules X1–X4); whether the request is at that step is this
module's (X5, X6).
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import unicodedata
from dataclasses import dataclass

from bridge.domain.rules import Rule, reason
from bridge.errors import InvalidInput

SHA256 = re.compile(r"^[0-9a-f]{64}$")
#: Delivery formats the IT Center produces (configurable data would be nicer; these are the ones seen).
FORMATS = frozenset({"xlsx", "csv", "json", "xml", "sql", "pdf"})
#: Channels a delivered file may leave by.
CHANNELS = frozenset({"sftp", "email", "qldl-portal", "usb-encrypted", "paper"})


class ExtractionStatus(enum.StrEnum):
    """Where a request stands."""

    PENDING_UNIT = "pending_unit"  # chờ Lãnh đạo đơn vị phê duyệt
    PENDING_CENTRAL = "pending_central"  # chờ Lãnh đạo Ngành phê duyệt
    QUEUED = "queued"  # đã phê duyệt, trong hàng đợi của Trung tâm CNTT
    FULFILLED = "fulfilled"  # Trung tâm CNTT đã cung cấp dữ liệu
    REFUSED = "refused"  # Trung tâm CNTT từ chối
    REJECTED = "rejected"  # Lãnh đạo không phê duyệt


LABELS_VI: dict[ExtractionStatus, str] = {
    ExtractionStatus.PENDING_UNIT: "Chờ Lãnh đạo đơn vị phê duyệt",
    ExtractionStatus.PENDING_CENTRAL: "Chờ Lãnh đạo Ngành phê duyệt",
    ExtractionStatus.QUEUED: "Chờ Trung tâm CNTT xử lý",
    ExtractionStatus.FULFILLED: "Đã cung cấp dữ liệu",
    ExtractionStatus.REFUSED: "Trung tâm CNTT từ chối",
    ExtractionStatus.REJECTED: "Lãnh đạo không phê duyệt",
}


class Step(enum.StrEnum):
    """What someone wants to do to a request."""

    APPROVE_UNIT = "approve_unit"
    APPROVE_CENTRAL = "approve_central"
    FULFIL = "fulfil"
    REFUSE = "refuse"
    CONFIRM_DELETION = "confirm_deletion"


@dataclass(frozen=True)
class ScopeItem:
    """One part of the data scope: a system (phần mềm / CSDL), its tables and the fields asked for."""

    system: str
    tables: tuple[str, ...]
    fields: tuple[str, ...]


@dataclass(frozen=True)
class ExtractionDraft:
    """What a requesting unit files: its official letter, the data form, purpose, recipients, retention."""

    unit_code: str
    letter_number: str  # số công văn
    letter_date: dt.date  # ngày công văn
    purpose: str  # mục đích
    data_scope: tuple[ScopeItem, ...]  # biểu mẫu yêu cầu dữ liệu: hệ thống, bảng, trường
    period_from: dt.date  # dữ liệu từ ngày
    period_to: dt.date  # đến ngày
    format: str  # định dạng
    recipients: tuple[str, ...]  # nơi nhận
    legal_basis: str  # căn cứ pháp lý
    retention_until: dt.date  # ngày hủy dữ liệu (hết thời hạn lưu giữ)


class IncompleteRequest(InvalidInput):
    """A request missing or contradicting fields: nothing was recorded; :attr:`extra` names every field."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        shown = "; ".join(f"{name}: {text}" for name, text in problems)
        super().__init__(f"yêu cầu chưa đủ / incomplete request: {shown}", field=problems[0][0])
        #: Carried into the API's problem+json body.
        self.extra = {"problems": [{"field": n, "problem": t} for n, t in problems]}


def _text(value: object) -> str:
    return unicodedata.normalize("NFC", str(value or "")).strip()


def check_draft(draft: ExtractionDraft, *, today: dt.date) -> ExtractionDraft:
    """The draft with its texts NFC-normalised, or :class:`InvalidInput` naming every wrong field at once."""
    problems: list[tuple[str, str]] = []
    texts = {name: _text(getattr(draft, name)) for name in ("letter_number", "purpose", "legal_basis")}
    for name, value in texts.items():
        if not value:
            problems.append((name, "bắt buộc / required"))
    if draft.letter_date > today:
        problems.append(("letter_date", "ngày công văn ở tương lai / the letter is dated in the future"))
    if draft.period_from > draft.period_to:
        problems.append(("period_to", "kỳ dữ liệu kết thúc trước khi bắt đầu / the period ends before it starts"))
    if draft.retention_until <= today:
        problems.append(("retention_until", "ngày hủy dữ liệu phải sau hôm nay / the deletion date must be later"))
    fmt = _text(draft.format).casefold()
    if fmt not in FORMATS:
        problems.append(("format", f"định dạng {fmt!r} không hỗ trợ / unsupported, one of {sorted(FORMATS)}"))
    scope = tuple(
        ScopeItem(_text(i.system), tuple(_text(t) for t in i.tables if _text(t)),
                  tuple(_text(f) for f in i.fields if _text(f)))
        for i in draft.data_scope
    )  # fmt: skip
    if not scope:
        problems.append(("data_scope", "cần ít nhất một hệ thống / at least one system"))
    for index, item in enumerate(scope):
        if not item.system or not item.tables or not item.fields:
            problems.append((f"data_scope[{index}]", "cần hệ thống, bảng và trường / system, tables and fields"))
    recipients = tuple(r for r in (_text(x) for x in draft.recipients) if r)
    if not recipients:
        problems.append(("recipients", "cần ít nhất một nơi nhận / at least one recipient"))
    if problems:
        raise IncompleteRequest(problems)
    return ExtractionDraft(
        unit_code=draft.unit_code, letter_number=texts["letter_number"], letter_date=draft.letter_date,
        purpose=texts["purpose"], data_scope=scope, period_from=draft.period_from, period_to=draft.period_to,
        format=fmt, recipients=recipients, legal_basis=texts["legal_basis"], retention_until=draft.retention_until,
    )  # fmt: skip


#: The status each step requires.
REQUIRES: dict[Step, tuple[ExtractionStatus, ...]] = {
    Step.APPROVE_UNIT: (ExtractionStatus.PENDING_UNIT,),
    Step.APPROVE_CENTRAL: (ExtractionStatus.PENDING_CENTRAL,),
    Step.FULFIL: (ExtractionStatus.QUEUED,),
    Step.REFUSE: (ExtractionStatus.QUEUED,),
    Step.CONFIRM_DELETION: (ExtractionStatus.FULFILLED,),
}


@dataclass(frozen=True)
class StepCheck:
    """Whether a request is at the step asked for; the rule and reason when it is not."""

    allowed: bool
    rule: Rule | None = None
    reason: str = ""


def check_step(status: ExtractionStatus, step: Step) -> StepCheck:
    """May ``step`` be taken on a request in ``status``? The IT Center's steps before both approvals are X5."""
    if status in REQUIRES[step]:
        return StepCheck(True)
    if step in (Step.FULFIL, Step.REFUSE) and status in (ExtractionStatus.PENDING_UNIT,
                                                         ExtractionStatus.PENDING_CENTRAL):  # fmt: skip
        return StepCheck(False, Rule.X5_NOT_APPROVED_YET, reason(Rule.X5_NOT_APPROVED_YET))
    return StepCheck(False, Rule.X6_WRONG_STATE, reason(Rule.X6_WRONG_STATE, status=LABELS_VI[status]))


def approval_stage(status: ExtractionStatus) -> str | None:
    """Which approval a request waits for: ``unit``, ``central``, or None."""
    return {ExtractionStatus.PENDING_UNIT: "unit", ExtractionStatus.PENDING_CENTRAL: "central"}.get(status)


def after_approval(status: ExtractionStatus, *, approve: bool) -> ExtractionStatus:
    """The status after an approver's decision: the next stage, the IT Center's queue, or rejected."""
    if not approve:
        return ExtractionStatus.REJECTED
    return ExtractionStatus.PENDING_CENTRAL if status is ExtractionStatus.PENDING_UNIT else ExtractionStatus.QUEUED


class DeletionState(enum.StrEnum):
    """The deletion confirmation of a delivered extraction (xác nhận hủy dữ liệu)."""

    NOT_DUE = "not_due"  # not delivered, or delivered and the retention date is later
    DUE = "due"  # delivered; the retention date is today or within the warning window
    OVERDUE = "overdue"  # the retention date has passed without a confirmation
    CONFIRMED = "confirmed"


def deletion_state(
    *, status: ExtractionStatus, retention_until: dt.date, confirmed: bool, today: dt.date, warn_days: int = 30
) -> DeletionState:
    """Where a request's deletion confirmation stands on ``today``."""
    if confirmed:
        return DeletionState.CONFIRMED
    if status is not ExtractionStatus.FULFILLED:
        return DeletionState.NOT_DUE
    if retention_until < today:
        return DeletionState.OVERDUE
    if retention_until <= today + dt.timedelta(days=warn_days):
        return DeletionState.DUE
    return DeletionState.NOT_DUE


def check_sha256(value: str) -> str:
    """A lower-case hex SHA-256, or :class:`InvalidInput`."""
    text = value.strip().lower()
    if not SHA256.match(text):
        raise InvalidInput("SHA-256 phải là 64 ký tự hex / the SHA-256 must be 64 hex digits", field="file_sha256")
    return text


def check_channel(value: str) -> str:
    """A known delivery channel, or :class:`InvalidInput`."""
    text = value.strip().casefold()
    if text not in CHANNELS:
        raise InvalidInput(f"kênh {text!r} không hỗ trợ / unknown channel, one of {sorted(CHANNELS)}", field="channel")
    return text
