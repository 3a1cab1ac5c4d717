"""Lock decisions (khóa tài khoản theo quyết định): recording, Phụ lục 01 intake, the scheduler that applies them."""
