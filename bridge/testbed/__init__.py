"""The local test bed: real Keycloak, real OpenLDAP slapd, a generated BHXH directory.

One set of functions starts the servers for the README's demo, the pytest fixtures and CI alike, so what the
tests exercise is what a developer runs. Everything listens on 127.0.0.1 and a free port, and everything it
starts it also stops.
"""
