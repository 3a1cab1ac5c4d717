"""BHXH SSO identity bridge: keeps Keycloak true to the official directory and personnel decisions."""
