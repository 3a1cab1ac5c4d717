"""Keycloak side of the bridge: the one adapter that imports python-keycloak, and the realm-as-code planner."""
