"""Applying lock decisions to Keycloak on their effective dates, and proving they took hold (issue 5)."""
