"""The rule book of the scope policy: stable ids and their reasons, Vietnamese first, English beside.

Kept apart from the decision code so the wording can follow the regulation in force (QĐ 2099/QĐ-BHXH may
supersede parts of Quy chế 2366) without touching logic; ids never change once a ledger row cites them.
A rule's reason is the same whether it allowed or refused; the ledger row says which.
"""

from __future__ import annotations

RULES: dict[str, str] = {
    "R0-unauthenticated": "Chưa xác thực / not authenticated",
    "R0-not-administrator": ("Người dùng không giữ vai trò quản trị / the caller holds no administrative role"),
    "R0-actor-unit-closed": (
        "Đơn vị của người thực hiện ({unit}) không còn hiệu lực / the caller's unit {unit} is not in force"
    ),
    "R0-misconfigured-actor": (
        "Vai trò quản trị không khớp đơn vị {unit} / the administrative role does not fit unit {unit}"
    ),
    "R0-unknown-target-unit": ("Đơn vị {unit} không tồn tại vào ngày này / unit {unit} does not exist that day"),
    "R1-it-center-central": (
        "Trung tâm CNTT cấp, khóa tài khoản của các đơn vị nghiệp vụ trung ương (Điều 6 khoản 1) / "
        "the IT Center grants and locks accounts of central units"
    ),
    "R2-it-center-admin-accounts": (
        "Chỉ Trung tâm CNTT cấp, khóa tài khoản quản trị của BHXH tỉnh (Điều 6 khoản 1) / "
        "only the IT Center grants and locks provincial administrator accounts"
    ),
    "R3-it-center-provider": (
        "Trung tâm CNTT cấp, khóa tài khoản của đơn vị cung cấp dịch vụ (Điều 6 khoản 1) / "
        "the IT Center grants and locks service-provider accounts"
    ),
    "R4-province-own-units": (
        "Đơn vị {unit} thuộc BHXH tỉnh {province} của người thực hiện / "
        "unit {unit} is under the caller's province {province}"
    ),
    "R5-province-out-of-scope": (
        "Đơn vị {unit} không thuộc phạm vi quản lý của BHXH tỉnh {province} / "
        "unit {unit} is outside the caller's province {province}"
    ),
    "R6-it-center-violation-lock": (
        "Trung tâm CNTT được khóa ngay tài khoản vi phạm (Điều 6 khoản 3) / "
        "the IT Center may lock an account at once for a violation"
    ),
    "R7-province-delegated": (
        "Tài khoản của đơn vị {unit} do BHXH tỉnh cấp, khóa theo phân cấp / "
        "accounts of unit {unit} are granted and locked by its province"
    ),
    "R8-read-only-role": (
        "Vai trò {role} không cấp, khóa tài khoản (chỉ phê duyệt hoặc đọc) / "
        "role {role} does not grant or lock accounts (approves or reads only)"
    ),
    "R9-no-self": ("Không ai tự cấp, thu hồi, khóa quyền cho chính mình / nobody grants or locks for themselves"),
    "R10-no-escalation": (
        "Không ai cấp vai trò ngang bằng hoặc cao hơn vai trò của mình / nobody grants a role at or above their own"
    ),
    "R11-self-view": "Người dùng xem thông tin của chính mình / staff see their own record",
    "R12-central-read": (
        "Trung tâm CNTT, Lãnh đạo Ngành và kiểm toán viên xem toàn ngành / "
        "the IT Center, leadership and auditors read everything"
    ),
    "R13-four-eyes": (
        "Người đề nghị không tự phê duyệt đề nghị của mình / the requester cannot approve their own request"
    ),
    "R14-leadership-approves": (
        "Ngoại lệ và yêu cầu khai thác dữ liệu do Lãnh đạo Ngành phê duyệt (Công văn 907) / "
        "exceptions and data-extraction requests are approved by leadership"
    ),
    "R15-central-admins-release": (
        "Van an toàn của đồng bộ do quản trị viên Trung tâm CNTT mở / "
        "the sync's safety valve is released by IT Center administrators"
    ),
    "R16-audit-readers": (
        "Nhật ký kiểm toán do Trung tâm CNTT, Lãnh đạo Ngành và kiểm toán viên xem / "
        "the audit trail is read by the IT Center, leadership and auditors"
    ),
}
