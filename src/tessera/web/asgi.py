"""An importable application for ASGI servers that start their own workers (granian, gunicorn).

``tessera serve`` has already checked and reconciled the configuration when a worker imports
this; the worker reads the same configuration (``TESSERA_CONFIG`` or ./tessera.toml, and the
environment) and only opens the store.
"""

from __future__ import annotations

from tessera.logs import configure_logging
from tessera.settings import load_settings
from tessera.web.app import TesseraApp, create_app


def app_from_environment() -> TesseraApp:
    settings = load_settings()
    configure_logging(settings.log.level, settings.log.format)
    return create_app(settings, bootstrap=False)


__all__ = ["app_from_environment"]
