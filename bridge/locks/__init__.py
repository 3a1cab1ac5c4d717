"""Lock lifecycle (khóa tài khoản theo quyết định): decisions, their dates, intake and endings (issue 5)."""
