"""Alembic migrations of the Tessera schema."""
