"""Quarterly account reports (Công văn 907), their submission and deadlines, and account reviews (rà soát)."""
