"""Sync runs (directory → Keycloak): the run, its executor, the bulk import and the safety valve's approvals."""
