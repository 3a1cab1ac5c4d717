"""Vietnamese labels of the quarterly report (Công văn 907 appendix, columns assumed in brief/domain.md).

Kept as data in one place so a changed appendix changes one module: the workbook, the CSV and the JSON all
take their column names and section titles from here. English names sit beside for developers and the JSON keys.
"""

from __future__ import annotations

#: (JSON key, Vietnamese header) in the order of the appendix.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("stt", "STT"),
    ("full_name", "Họ và tên"),
    ("title", "Chức vụ"),
    ("unit", "Phòng/Đơn vị công tác"),
    ("email", "Tài khoản (thư điện tử công vụ)"),
    ("application", "Phần mềm nghiệp vụ"),
    ("role", "Quyền/Vai trò"),
    ("date", "Ngày cấp / Ngày khóa"),
    ("reason", "Lý do"),
    ("note", "Ghi chú"),
)
SECTION_TITLES = {
    1: "1. Tài khoản truy cập các phần mềm nghiệp vụ giảm trong quý (khóa, thu hồi)",
    2: "2. Tài khoản truy cập các phần mềm nghiệp vụ tăng trong quý",
}
REPORT_TITLE = "BÁO CÁO TÌNH HÌNH CẤP VÀ QUẢN LÝ TÀI KHOẢN TRUY CẬP HỆ THỐNG PHẦN MỀM NGHIỆP VỤ"
BASIS = "(Theo Công văn số 907/BHXH-CNTT ngày 26/3/2019)"

#: Lock reasons (Quy chế 2366 Điều 6; brief/mission.md), used when a ledger row carries only the code.
LOCK_REASONS = {
    "maternity": "Nghỉ thai sản",
    "long_sick_leave": "Ốm đau dài ngày",
    "unpaid_leave": "Nghỉ không lương",
    "terminated": "Chấm dứt làm việc / thôi việc",
    "retired": "Nghỉ hưu",
    "transferred": "Chuyển công tác sang lĩnh vực khác",
    "violation": "Vi phạm nội quy, quy định sử dụng tài khoản",
    "provider_ended": "Nhân sự đơn vị cung cấp dịch vụ nghỉ / hết hợp đồng",
    "exception_ended": "Hết thời hạn tài khoản ngoại lệ",
}
REASON_GRANT = "Cấp mới"
REASON_EXISTING = "Tài khoản hiện có (báo cáo lần đầu)"
REASON_REVOKE = "Thu hồi quyền"
REASON_UNLOCK = "Mở khóa, khôi phục quyền"
ALL_APPLICATIONS = "Tất cả phần mềm nghiệp vụ"

STATUS_LABELS = {
    "on_time": "Đúng hạn",
    "late": "Nộp muộn",
    "missing": "Chưa nộp (quá hạn)",
    "pending": "Chưa nộp (chưa đến hạn)",
}
