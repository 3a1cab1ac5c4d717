"""The official mail directory (thư điện tử công vụ) as the source of staff: read-only access."""
