"""Adapters: one module per third-party client (python-keycloak, ldap3, SQLAlchemy), below everything else."""
