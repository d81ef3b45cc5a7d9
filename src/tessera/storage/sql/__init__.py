"""SQLAlchemy implementations of the storage ports."""
