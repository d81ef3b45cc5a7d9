"""Adapters for what Tessera sends out (HTTP callbacks to clients)."""
