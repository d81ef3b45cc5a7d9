"""The root of every error Tessera raises on purpose.

Each protocol has one family (``OAuthError``, ``AwsError`` …) and one class per wire code.
The class carries the code, the HTTP status and a public ``description``; ``detail`` is for
logs only and never reaches a client.
"""

from __future__ import annotations


class TesseraError(Exception):
    """Root of Tessera's own errors."""


class ConfigurationError(TesseraError):
    """The configuration is invalid; the message names the key and the problem."""


class KeyEncryptionKeyError(TesseraError):
    """The key-encryption key is missing, malformed or not the one the keys were sealed with."""


class ProtocolError(TesseraError):
    """An error with a wire representation. Subclasses set ``code`` and ``status``."""

    code: str = "server_error"
    status: int = 500

    def __init__(self, description: str = "", *, detail: str = "", reason: str = "") -> None:
        if not description.isascii():
            raise ValueError("protocol error descriptions must be ASCII")
        super().__init__(description or self.code)
        self.description = description
        self.detail = detail  # for the server log only
        self.reason = reason or self.code  # stable code for the audit trail

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.description!r})"


class NotFound(TesseraError):
    """A named object does not exist (raised by domain services, rendered per protocol)."""


class Conflict(TesseraError):
    """An object with the same identity already exists."""


__all__ = [
    "ConfigurationError",
    "Conflict",
    "KeyEncryptionKeyError",
    "NotFound",
    "ProtocolError",
    "TesseraError",
]
