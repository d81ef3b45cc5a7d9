"""Durable state: SQLAlchemy Core over SQLite (embedded default) or PostgreSQL."""

from tessera.storage.sql.store import SqlStore, open_store

__all__ = ["SqlStore", "open_store"]
