"""HTTP adapters: parse requests into core models, render core responses."""

from tessera.web.app import create_app

__all__ = ["create_app"]
