"""The report's vocabulary of account changes (Công văn 907: every account change of the quarter). Pure.

Every service that changes an account writes a ledger row; this module names which rows are account changes,
of which kind, in which section of the appendix they belong, and with which Vietnamese reason. The sync and the
console watcher put the kind into their rows' detail (``change``) when they write them, so the report reads the
ledger without guessing; older rows are classified from their action and rule. One ledger row is one change:
a lock that ends an exception account is that account's end, not a second, ordinary lock.
"""

from __future__ import annotations

import enum
from typing import Any

from bridge.domain.reports.model import ADDED, REMOVED


class ChangeKind(enum.StrEnum):
    """What happened to an account."""

    JOINER = "joiner"  # tài khoản mới từ thư mục (đồng bộ)
    LEAVER = "leaver"  # rời thư mục: tài khoản bị khóa (đồng bộ)
    RETURNER = "returner"  # trở lại thư mục: tài khoản mở lại (đồng bộ)
    UNIT_MOVE = "unit_move"  # chuyển đơn vị, sắp xếp tổ chức (đồng bộ)
    CONSOLE_ACCEPTED = "console_accepted"  # thay đổi trên console Keycloak được chấp nhận
    CONSOLE_REVERTED = "console_reverted"  # thay đổi trên console Keycloak bị hoàn tác
    ROLE_GRANTED = "role_granted"  # cấp quyền (nhóm vai trò)
    ROLE_REVOKED = "role_revoked"  # thu hồi quyền
    ROLE_ENDED_BY_TRANSFER = "role_ended_by_transfer"  # chuyển công tác: quyền cũ chấm dứt
    LOCKED = "locked"  # khóa theo quyết định
    REINSTATED = "reinstated"  # mở khóa, khôi phục quyền
    EXCEPTION_CREATED = "exception_created"  # tài khoản ngoại lệ được tạo (Lãnh đạo Ngành phê duyệt)
    EXCEPTION_ENDED = "exception_ended"  # tài khoản ngoại lệ hết thời hạn


#: The reason column of each kind (the appendix's "Lý do").
LABELS: dict[ChangeKind, str] = {
    ChangeKind.JOINER: "Tài khoản mới (đồng bộ từ danh bạ thư điện tử công vụ)",
    ChangeKind.LEAVER: "Không còn trong danh bạ: khóa tài khoản (đồng bộ)",
    ChangeKind.RETURNER: "Trở lại danh bạ: mở lại tài khoản (đồng bộ)",
    ChangeKind.UNIT_MOVE: "Chuyển đơn vị / sắp xếp tổ chức (đồng bộ)",
    ChangeKind.CONSOLE_ACCEPTED: "Thay đổi trên giao diện quản trị Keycloak (được chấp nhận)",
    ChangeKind.CONSOLE_REVERTED: "Thay đổi trên giao diện quản trị Keycloak (bị hoàn tác)",
    ChangeKind.ROLE_GRANTED: "Cấp mới",
    ChangeKind.ROLE_REVOKED: "Thu hồi quyền",
    ChangeKind.ROLE_ENDED_BY_TRANSFER: "Chuyển công tác sang lĩnh vực khác",
    ChangeKind.LOCKED: "Khóa tài khoản",
    ChangeKind.REINSTATED: "Mở khóa, khôi phục quyền",
    ChangeKind.EXCEPTION_CREATED: "Tài khoản ngoại lệ (Lãnh đạo Ngành phê duyệt)",
    ChangeKind.EXCEPTION_ENDED: "Hết thời hạn tài khoản ngoại lệ",
}
#: Kinds that take access away (section 1, giảm); the others add it (section 2, tăng).
REMOVING = frozenset({ChangeKind.LEAVER, ChangeKind.ROLE_REVOKED, ChangeKind.ROLE_ENDED_BY_TRANSFER,
                      ChangeKind.LOCKED, ChangeKind.EXCEPTION_ENDED})  # fmt: skip
#: Ledger actions of account changes besides grant, revoke, lock and unlock.
ACCOUNT_ACTIONS = (
    "sync.ensure", "sync.disable", "sync.enable", "sync.move",
    "console:create", "console:grant", "console:revoke", "console:lock", "console:unlock",
    "exception_account.create",
)  # fmt: skip
_SYNC = {"sync.ensure": ChangeKind.JOINER, "sync.enable": ChangeKind.RETURNER, "sync.move": ChangeKind.UNIT_MOVE}
_CONSOLE_REMOVING = frozenset({"console:revoke", "console:lock"})


def sync_change(kind: str, reason: str) -> ChangeKind | None:
    """The change a sync operation (``ensure``/``disable``/``enable``/``move`` for a reason) is; None for a
    disable under a hold (the lock decision is the change, written by the lock scheduler). Pure."""
    if kind == "disable":
        return ChangeKind.LEAVER if reason == "leaver" else None
    return _SYNC.get(f"sync.{kind}")


def console_change(*, allowed: bool, reverted: bool) -> ChangeKind:
    """A judged console change: accepted, or reverted (refused changes are put back). Pure."""
    return ChangeKind.CONSOLE_REVERTED if reverted or not allowed else ChangeKind.CONSOLE_ACCEPTED


def change_kind(action: str, outcome: str, rule: str, detail: dict[str, Any]) -> ChangeKind | None:
    """The change one ledger row records, or None when it records none. Pure."""
    written = detail.get("change")
    if written:
        try:
            return ChangeKind(str(written))
        except ValueError:
            return None
    if action == "grant":
        return ChangeKind.ROLE_GRANTED if outcome == "allowed" else None
    if action == "revoke":
        if outcome != "allowed":
            return None
        return ChangeKind.ROLE_ENDED_BY_TRANSFER if detail.get("reason") == "transferred" else ChangeKind.ROLE_REVOKED
    if action == "lock":
        if outcome != "allowed":
            return None
        return ChangeKind.EXCEPTION_ENDED if detail.get("reason_code") == "exception_ended" else ChangeKind.LOCKED
    if action == "unlock":
        return ChangeKind.REINSTATED if outcome == "allowed" else None
    if action == "exception_account.create":
        return ChangeKind.EXCEPTION_CREATED
    if action.startswith("sync."):
        return sync_change(action.removeprefix("sync."), rule.removeprefix("sync-"))
    if action.startswith("console:"):
        return console_change(allowed=outcome == "allowed", reverted=bool(detail.get("reverted")))
    return None


def section_of(kind: ChangeKind, action: str = "") -> int:
    """Section 1 (giảm) or 2 (tăng) of a change; a console change by what was attempted. Pure."""
    if kind in (ChangeKind.CONSOLE_ACCEPTED, ChangeKind.CONSOLE_REVERTED):
        return REMOVED if action in _CONSOLE_REMOVING else ADDED
    return REMOVED if kind in REMOVING else ADDED
