"""Calendar dates in Asia/Ho_Chi_Minh: effective dates of decisions and units are local calendar days."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def today_vn(now: dt.datetime | None = None) -> dt.date:
    """Today's date in Vietnam (an injectable ``now`` for tests)."""
    return (now or dt.datetime.now(tz=dt.UTC)).astimezone(VN_TZ).date()


def format_vn(day: dt.date) -> str:
    """dd/mm/yyyy, as Vietnamese staff read dates."""
    return day.strftime("%d/%m/%Y")
