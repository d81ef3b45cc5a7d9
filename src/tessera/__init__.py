"""Tessera: a self-hosted Security Token Service."""

__version__ = "0.1.0"

__all__ = ["__version__"]
