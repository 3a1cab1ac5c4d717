"""Keycloak's admin REST API: the one module importing python-keycloak, and bulk reads built on it."""
