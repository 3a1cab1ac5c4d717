"""Governance core (issue 4): scope policy, eligibility, approvals, grants and the audit ledger."""
