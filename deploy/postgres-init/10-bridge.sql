-- The bridge's own database, owned by a migration role; the application role gets DML but cannot
-- UPDATE or DELETE audit-ledger rows (enforced by the Alembic migrations).
CREATE DATABASE bridge;
