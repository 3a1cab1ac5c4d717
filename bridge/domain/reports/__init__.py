"""The quarterly report as data: quarters and deadlines, rows and sections, Vietnamese labels."""
