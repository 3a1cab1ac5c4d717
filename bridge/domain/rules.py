"""The rule book: every rule id a decision, a refusal or a ledger row cites, and its reason, Vietnamese first,
English beside.

Kept apart from the decision code so the wording can follow the regulation in force (QĐ 2099/QĐ-BHXH may
supersede parts of Quy chế 2366) without touching logic; ids never change once a ledger row cites them, and an
id names one rule only. A rule's reason is the same whether it allowed or refused; the ledger row says which.
Families: R, the scope policy (``bridge.domain.policy``); E, what a request names is missing or not eligible;
L, the lock scheduler's verdicts (``bridge.domain.lock_rules``); W, the console watcher's verdicts that are
not policy decisions (``bridge.services.console_judge``); X, data-extraction requests (``bridge.domain.extraction``).
"""

from __future__ import annotations

import enum


@enum.unique
class Rule(enum.StrEnum):
    """A rule id; the member is the string a ledger row stores (``Rule.R9_NO_SELF == "R9-no-self"``)."""

    # R: the scope policy of delegated administration (Quy chế 2366 Điều 6 khoản 1), bridge.domain.policy
    R0_UNAUTHENTICATED = "R0-unauthenticated"
    R0_NOT_ADMINISTRATOR = "R0-not-administrator"
    R0_ACTOR_UNIT_CLOSED = "R0-actor-unit-closed"
    R0_MISCONFIGURED_ACTOR = "R0-misconfigured-actor"
    R0_UNKNOWN_TARGET_UNIT = "R0-unknown-target-unit"
    R1_IT_CENTER_CENTRAL = "R1-it-center-central"
    R2_IT_CENTER_ADMIN_ACCOUNTS = "R2-it-center-admin-accounts"
    R3_IT_CENTER_PROVIDER = "R3-it-center-provider"
    R4_PROVINCE_OWN_UNITS = "R4-province-own-units"
    R5_PROVINCE_OUT_OF_SCOPE = "R5-province-out-of-scope"
    R6_IT_CENTER_VIOLATION_LOCK = "R6-it-center-violation-lock"
    R7_PROVINCE_DELEGATED = "R7-province-delegated"
    R8_READ_ONLY_ROLE = "R8-read-only-role"
    R9_NO_SELF = "R9-no-self"
    R10_NO_ESCALATION = "R10-no-escalation"
    R11_SELF_VIEW = "R11-self-view"
    R12_CENTRAL_READ = "R12-central-read"
    R13_FOUR_EYES = "R13-four-eyes"
    R14_LEADERSHIP_APPROVES = "R14-leadership-approves"
    R15_CENTRAL_ADMINS_RELEASE = "R15-central-admins-release"
    R16_AUDIT_READERS = "R16-audit-readers"
    #: The account review of a unit, run (bridge.services.reports.review); not a policy decision.
    R_REVIEW = "R-review"
    # E: what a request names does not exist (or is outside the caller's scope), or is not eligible
    E1_UNKNOWN_PERSON = "E1-unknown-person"
    E2_NOT_ELIGIBLE = "E2-not-eligible"
    E3_UNKNOWN_GRANT = "E3-unknown-grant"
    E4_UNKNOWN_APPROVAL = "E4-unknown-approval"
    E5_UNKNOWN_LOCK = "E5-unknown-lock"
    # L: the lock scheduler's verdicts (Quy chế 2366 Điều 6 khoản 2–3, Công văn 907), bridge.domain.lock_rules
    L1_EFFECTIVE_DATE = "L1-effective-date"
    L2_ANOTHER_HOLD = "L2-another-hold"
    L3_LEFT_DIRECTORY = "L3-left-directory"
    L4_PLANNED_END = "L4-planned-end"
    L5_TRANSFER_ENDS_ROLES = "L5-transfer-ends-roles"
    # W: the console watcher's verdicts that are not policy decisions (bridge.services.console_judge)
    W0_PLATFORM_OPERATOR = "W0-platform-operator"
    W1_ACCOUNT_GONE = "W1-account-gone"
    W2_ALREADY_GRANTED = "W2-already-granted"
    W3_UNKNOWN_ROLE_GROUP = "W3-unknown-role-group"
    W4_NOT_JUDGED = "W4-not-judged"
    # X: data-extraction requests (Công văn 907), bridge.domain.policy and bridge.domain.extraction
    X0_UNKNOWN_EXTRACTION = "X0-unknown-extraction"
    X1_UNIT_ADMIN_FILES = "X1-unit-admin-files"
    X2_UNIT_LEADERSHIP_APPROVES = "X2-unit-leadership-approves"
    X3_CENTRAL_LEADERSHIP_APPROVES = "X3-central-leadership-approves"
    X4_IT_CENTER_PROCESSES = "X4-it-center-processes"
    X5_NOT_APPROVED_YET = "X5-not-approved-yet"
    X6_WRONG_STATE = "X6-wrong-state"
    #: administrators must give a second factor (issue 13): the bridge's administrator group follows its rows
    R17_ADMIN_SECOND_FACTOR = "R17-admin-second-factor"


RULES: dict[Rule, str] = {
    Rule.R0_UNAUTHENTICATED: "Chưa xác thực / not authenticated",
    Rule.R0_NOT_ADMINISTRATOR: ("Người dùng không giữ vai trò quản trị / the caller holds no administrative role"),
    Rule.R0_ACTOR_UNIT_CLOSED: (
        "Đơn vị của người thực hiện ({unit}) không còn hiệu lực / the caller's unit {unit} is not in force"
    ),
    Rule.R0_MISCONFIGURED_ACTOR: (
        "Vai trò quản trị không khớp đơn vị {unit} / the administrative role does not fit unit {unit}"
    ),
    Rule.R0_UNKNOWN_TARGET_UNIT: ("Đơn vị {unit} không tồn tại vào ngày này / unit {unit} does not exist that day"),
    Rule.R1_IT_CENTER_CENTRAL: (
        "Trung tâm CNTT cấp, khóa tài khoản của các đơn vị nghiệp vụ trung ương (Điều 6 khoản 1) / "
        "the IT Center grants and locks accounts of central units"
    ),
    Rule.R2_IT_CENTER_ADMIN_ACCOUNTS: (
        "Chỉ Trung tâm CNTT cấp, khóa tài khoản quản trị của BHXH tỉnh (Điều 6 khoản 1) / "
        "only the IT Center grants and locks provincial administrator accounts"
    ),
    Rule.R3_IT_CENTER_PROVIDER: (
        "Trung tâm CNTT cấp, khóa tài khoản của đơn vị cung cấp dịch vụ (Điều 6 khoản 1) / "
        "the IT Center grants and locks service-provider accounts"
    ),
    Rule.R4_PROVINCE_OWN_UNITS: (
        "Đơn vị {unit} thuộc BHXH tỉnh {province} của người thực hiện / "
        "unit {unit} is under the caller's province {province}"
    ),
    Rule.R5_PROVINCE_OUT_OF_SCOPE: (
        "Đơn vị {unit} không thuộc phạm vi quản lý của BHXH tỉnh {province} / "
        "unit {unit} is outside the caller's province {province}"
    ),
    Rule.R6_IT_CENTER_VIOLATION_LOCK: (
        "Trung tâm CNTT được khóa ngay tài khoản vi phạm (Điều 6 khoản 3) / "
        "the IT Center may lock an account at once for a violation"
    ),
    Rule.R7_PROVINCE_DELEGATED: (
        "Tài khoản của đơn vị {unit} do BHXH tỉnh cấp, khóa theo phân cấp / "
        "accounts of unit {unit} are granted and locked by its province"
    ),
    Rule.R8_READ_ONLY_ROLE: (
        "Vai trò {role} không cấp, khóa tài khoản (chỉ phê duyệt hoặc đọc) / "
        "role {role} does not grant or lock accounts (approves or reads only)"
    ),
    Rule.R9_NO_SELF: ("Không ai tự cấp, thu hồi, khóa quyền cho chính mình / nobody grants or locks for themselves"),
    Rule.R10_NO_ESCALATION: (
        "Không ai cấp vai trò ngang bằng hoặc cao hơn vai trò của mình / nobody grants a role at or above their own"
    ),
    Rule.R11_SELF_VIEW: "Người dùng xem thông tin của chính mình / staff see their own record",
    Rule.R12_CENTRAL_READ: (
        "Trung tâm CNTT, Lãnh đạo Ngành và kiểm toán viên xem toàn ngành / "
        "the IT Center, leadership and auditors read everything"
    ),
    Rule.R13_FOUR_EYES: (
        "Người đề nghị không tự phê duyệt đề nghị của mình / the requester cannot approve their own request"
    ),
    Rule.R14_LEADERSHIP_APPROVES: (
        "Ngoại lệ và yêu cầu khai thác dữ liệu do Lãnh đạo Ngành phê duyệt (Công văn 907) / "
        "exceptions and data-extraction requests are approved by leadership"
    ),
    Rule.R15_CENTRAL_ADMINS_RELEASE: (
        "Van an toàn của đồng bộ do quản trị viên Trung tâm CNTT mở / "
        "the sync's safety valve is released by IT Center administrators"
    ),
    Rule.R16_AUDIT_READERS: (
        "Nhật ký kiểm toán do Trung tâm CNTT, Lãnh đạo Ngành và kiểm toán viên xem / "
        "the audit trail is read by the IT Center, leadership and auditors"
    ),
    Rule.R_REVIEW: "Rà soát tài khoản của đơn vị (Công văn 907) / the account review of a unit",
    Rule.E1_UNKNOWN_PERSON: (
        "Không có người này trong danh bạ thư điện tử công vụ / no such person in the official directory"
    ),
    Rule.E2_NOT_ELIGIBLE: (
        "Không có (hoặc không còn hoạt động) trong danh bạ thư điện tử công vụ; cần ngoại lệ được Lãnh đạo Ngành "
        "phê duyệt (Công văn 907) / not (or no longer) active in the official directory: needs a "
        "leadership-approved exception"
    ),
    Rule.E3_UNKNOWN_GRANT: "Không có bản ghi cấp quyền này / no such grant",
    Rule.E4_UNKNOWN_APPROVAL: "Không có đề nghị phê duyệt này / no such approval request",
    Rule.E5_UNKNOWN_LOCK: "Không có quyết định khóa này / no such lock decision",
    Rule.L1_EFFECTIVE_DATE: (
        "Khóa tài khoản từ ngày hiệu lực của quyết định, không sớm hơn (Công văn 907) / "
        "the account is locked from the decision's effective date, not before"
    ),
    Rule.L2_ANOTHER_HOLD: (
        "Tài khoản vẫn khóa: còn một quyết định khóa khác đang hiệu lực / "
        "the account stays locked: another lock is still in force"
    ),
    Rule.L3_LEFT_DIRECTORY: (
        "Không mở lại tài khoản của người đã rời danh bạ / "
        "the account of a person who left the directory is not reinstated"
    ),
    Rule.L4_PLANNED_END: (
        "Mở lại tài khoản vào ngày kết thúc nghỉ, với các nhóm quyền trước khi khóa / "
        "the account comes back on the planned end date, with its role groups"
    ),
    Rule.L5_TRANSFER_ENDS_ROLES: (
        "Chuyển công tác chấm dứt các nhóm quyền của lĩnh vực cũ (Điều 6 khoản 2) / "
        "a transfer ends the role groups of the old field"
    ),
    Rule.W0_PLATFORM_OPERATOR: "Quản trị nền tảng (realm master) / platform operator",
    Rule.W1_ACCOUNT_GONE: (
        "Tài khoản không còn trong Keycloak; không có gì để hoàn tác / the account no longer exists: nothing to revert"
    ),
    Rule.W2_ALREADY_GRANTED: (
        "Người này đã có nhóm quyền này trong bridge / the person already holds this role group in the bridge"
    ),
    Rule.W3_UNKNOWN_ROLE_GROUP: (
        "Nhóm quyền không có trong danh mục ứng dụng / the role group is not in the application catalogue"
    ),
    Rule.W4_NOT_JUDGED: (
        "Không đánh giá được thay đổi này (lỗi không thể thử lại); cần kiểm tra thủ công / "
        "the change could not be judged (a permanent error): check it by hand"
    ),
    Rule.X0_UNKNOWN_EXTRACTION: "Không có yêu cầu khai thác dữ liệu này / no such data-extraction request",
    Rule.X1_UNIT_ADMIN_FILES: (
        "Yêu cầu khai thác dữ liệu của đơn vị {unit} do quản trị viên của đơn vị lập / "
        "a data-extraction request of unit {unit} is filed by that unit's administrator"
    ),
    Rule.X2_UNIT_LEADERSHIP_APPROVES: (
        "Lãnh đạo đơn vị {unit} phê duyệt trước (Công văn 907) / the requesting unit {unit}'s leadership approves first"
    ),
    Rule.X3_CENTRAL_LEADERSHIP_APPROVES: (
        "Lãnh đạo BHXH Việt Nam (Lãnh đạo Ngành) phê duyệt trước khi chuyển Trung tâm CNTT (Công văn 907) / "
        "BHXH Viet Nam leadership approves before the request reaches the IT Center"
    ),
    Rule.X4_IT_CENTER_PROCESSES: (
        "Trung tâm CNTT tiếp nhận, xử lý yêu cầu khai thác dữ liệu / the IT Center processes data-extraction requests"
    ),
    Rule.X5_NOT_APPROVED_YET: (
        "Yêu cầu chưa được Lãnh đạo đơn vị và Lãnh đạo Ngành phê duyệt, chưa chuyển Trung tâm CNTT (Công văn 907) / "
        "the request lacks its two leadership approvals and has not reached the IT Center"
    ),
    Rule.X6_WRONG_STATE: (
        "Yêu cầu đang ở trạng thái {status}, không thực hiện được bước này / the request is {status}: not this step"
    ),
    Rule.R17_ADMIN_SECOND_FACTOR: (
        "Quản trị viên phải đăng nhập bằng mật khẩu và mã TOTP / administrators log in with a password and a TOTP code"
    ),
}


def reason(rule: Rule, **values: str) -> str:
    """The reason of ``rule``, its ``{placeholders}`` filled from ``values``."""
    return RULES[rule].format(**values)
