"""The sync engine: directory source, unit mapping, pure planner, Keycloak adapter, executor."""
