"""Lock reasons of Quy chế 2366 Điều 6 khoản 2–3 and the date rules of a lock decision. Pure.

A reason decides how a lock ends: temporary reasons (nghỉ thai sản, ốm đau dài ngày, nghỉ không lương) carry a
planned end date on which the account comes back; permanent ones never end on their own; a transfer (chuyển
công tác) ends the old field's role groups and leaves the account enabled. Effective and end dates are
calendar days in Asia/Ho_Chi_Minh; ``end_date`` is the first day the person works again (ngày kết thúc nghỉ),
so the hold covers ``effective_date .. end_date - 1``.
"""

from __future__ import annotations

import datetime as dt
import enum
import unicodedata
from dataclasses import dataclass

from bridge.errors import InvalidInput


class LockReason(enum.StrEnum):
    """Why an account is locked (lý do khóa tài khoản)."""

    MATERNITY = "maternity"  # nghỉ thai sản
    LONG_SICK_LEAVE = "long_sick_leave"  # ốm đau dài ngày
    UNPAID_LEAVE = "unpaid_leave"  # nghỉ không lương
    TERMINATED = "terminated"  # chấm dứt làm việc / thôi việc
    RETIRED = "retired"  # nghỉ hưu
    TRANSFERRED = "transferred"  # chuyển công tác sang lĩnh vực khác
    VIOLATION = "violation"  # vi phạm nội quy, quy định sử dụng tài khoản
    PROVIDER_ENDED = "provider_ended"  # nhân sự đơn vị cung cấp dịch vụ nghỉ / hết hợp đồng
    EXCEPTION_ENDED = "exception_ended"  # hết thời hạn tài khoản ngoại lệ (set by the bridge, not by a decision)


LABELS_VI: dict[LockReason, str] = {
    LockReason.MATERNITY: "nghỉ thai sản",
    LockReason.LONG_SICK_LEAVE: "ốm đau dài ngày",
    LockReason.UNPAID_LEAVE: "nghỉ không lương",
    LockReason.TERMINATED: "chấm dứt làm việc",
    LockReason.RETIRED: "nghỉ hưu",
    LockReason.TRANSFERRED: "chuyển công tác sang lĩnh vực khác",
    LockReason.VIOLATION: "vi phạm nội quy, quy định sử dụng tài khoản",
    LockReason.PROVIDER_ENDED: "nhân sự đơn vị cung cấp dịch vụ nghỉ / hết hợp đồng",
    LockReason.EXCEPTION_ENDED: "hết thời hạn tài khoản ngoại lệ",
}
#: Other spellings seen in Phụ lục 01 lists, mapped to their reason.
ALIASES: dict[str, LockReason] = {
    "thai sản": LockReason.MATERNITY,
    "ốm đau": LockReason.LONG_SICK_LEAVE,
    "thôi việc": LockReason.TERMINATED,
    "chấm dứt làm việc / thôi việc": LockReason.TERMINATED,
    "chuyển công tác": LockReason.TRANSFERRED,
    "vi phạm": LockReason.VIOLATION,
    "hết hợp đồng": LockReason.PROVIDER_ENDED,
}
TEMPORARY = frozenset({LockReason.MATERNITY, LockReason.LONG_SICK_LEAVE, LockReason.UNPAID_LEAVE})
#: A decision's effective date may lie at most this far from its decision date (catches typed-in years).
MAX_SPAN_DAYS = 3 * 366


def _key(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


_LOOKUP = {_key(r.value): r for r in LockReason} | {_key(v): r for r, v in LABELS_VI.items()}
_LOOKUP |= {_key(k): r for k, r in ALIASES.items()}


def parse_reason(text: str) -> LockReason:
    """A reason from its code or its Vietnamese label (any case, NFC); :class:`InvalidInput` otherwise."""
    found = _LOOKUP.get(_key(text))
    if found is None:
        raise InvalidInput(f"lý do không hợp lệ / unknown reason {text!r}", field="reason")
    return found


def parse_vn_date(text: str, *, field: str) -> dt.date:
    """A dd/mm/yyyy date (also d/m/yyyy and ISO yyyy-mm-dd); impossible dates such as 31/02 are refused."""
    raw = text.strip()
    try:
        if "-" in raw:
            return dt.date.fromisoformat(raw)
        day, month, year = (int(part) for part in raw.split("/"))
        if year < 1900:
            raise ValueError("year")
        return dt.date(year, month, day)
    except ValueError:
        raise InvalidInput(f"ngày không hợp lệ / not a real date (dd/mm/yyyy): {raw!r}", field=field) from None


@dataclass(frozen=True)
class LockDates:
    """The checked dates of one decision."""

    decision_date: dt.date | None
    effective_date: dt.date
    end_date: dt.date | None

    @property
    def hold_to(self) -> dt.date | None:
        """Last day the hold covers (the day before the return), None when it never ends."""
        return None if self.end_date is None else self.end_date - dt.timedelta(days=1)


def check_dates(
    *, reason: LockReason, decision_date: dt.date | None, effective_date: dt.date, end_date: dt.date | None
) -> LockDates:
    """The date rules of a lock decision. Pure; raises :class:`InvalidInput` naming the field."""
    if decision_date is None and reason is not LockReason.VIOLATION:
        raise InvalidInput("thiếu ngày quyết định / the decision date is required", field="decision_date")
    if decision_date is not None and abs((effective_date - decision_date).days) > MAX_SPAN_DAYS:
        raise InvalidInput(
            "ngày hiệu lực cách ngày quyết định quá 3 năm / effective date is more than 3 years from the decision date",
            field="effective_date",
        )
    if reason in TEMPORARY:
        if end_date is None:
            raise InvalidInput(
                f"lý do tạm thời ({LABELS_VI[reason]}) cần ngày kết thúc / a temporary lock needs an end date",
                field="end_date",
            )
        if end_date <= effective_date:
            raise InvalidInput(
                "ngày kết thúc phải sau ngày hiệu lực / the end date must be after the effective date",
                field="end_date",
            )
    elif end_date is not None:
        raise InvalidInput(
            f"lý do {LABELS_VI[reason]} không có ngày kết thúc / reason {reason.value} takes no end date",
            field="end_date",
        )
    return LockDates(decision_date, effective_date, end_date)
