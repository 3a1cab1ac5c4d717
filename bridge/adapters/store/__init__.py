"""The bridge's own store (SQLAlchemy 2.0 models, sessions, Alembic migrations)."""
