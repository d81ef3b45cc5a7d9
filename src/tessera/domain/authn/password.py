"""Password hashing (argon2id, OWASP Password Storage Cheat Sheet parameters) and the password policy.

A verification costs about 30 ms of one core with m=19456 KiB, t=2, p=1 (argon2-cffi's default
``PasswordHasher`` costs ten times that). Unknown users are verified against a dummy hash made with
the same parameters, so a wrong username costs as much as a wrong password. A stored hash made with
other parameters still verifies and is upgraded on the next successful sign-in.
"""

from __future__ import annotations

import asyncio
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from tessera.errors import TesseraError
from tessera.secret import Secret

MAX_PASSWORD_LENGTH = 1024  # longer inputs are refused before hashing (no hashing-cost amplification)


@dataclass(frozen=True, slots=True)
class Authentication:
    """What one authentication step established (OIDC Core §2 ``amr``/``acr``, RFC 8176 method names)."""

    amr: tuple[str, ...]
    acr: str
    auth_time: float


AUTHENTICATION_PWD = ("pwd",)
ACR_PASSWORD = "1"  # ISO/IEC 29115 level 1: one factor; MFA will issue "2"


class WeakPassword(TesseraError):
    """The password does not meet the policy; the message says why (for the person choosing it)."""


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    """Applied everywhere a password is set: CLI, future self-service pages, the admin API."""

    min_length: int = 12
    reject_common: bool = True

    def check(self, password: Secret[str], *, username: str = "") -> None:
        value = normalise_password(password).reveal()
        if len(value) < self.min_length:
            raise WeakPassword(f"the password must be at least {self.min_length} characters long")
        if len(value) > MAX_PASSWORD_LENGTH:
            raise WeakPassword(f"the password must be at most {MAX_PASSWORD_LENGTH} characters long")
        folded = value.casefold()
        if username and folded == username.casefold():
            raise WeakPassword("the password must not be the username")
        if self.reject_common and folded in common_passwords():
            raise WeakPassword("this password is on the list of commonly used passwords; choose another")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The shipped list (``tessera/data/common-passwords.txt``), lower case."""
    text = resources.files("tessera").joinpath("data/common-passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip().casefold() for line in text.splitlines() if line and not line.startswith("#"))


def normalise_password(password: Secret[str]) -> Secret[str]:
    """NFC, so that the same password typed on two keyboards hashes the same (NIST SP 800-63B §5.1.1.2)."""
    return Secret(unicodedata.normalize("NFC", password.reveal()))


class PasswordHasher:
    """argon2id with explicit parameters; the slow work runs in a thread so the event loop keeps serving."""

    def __init__(self, memory_kib: int = 19_456, time_cost: int = 2, parallelism: int = 1, max_parallel: int = 4):
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            hash_len=32,
            salt_len=16,
            type=argon2.Type.ID,
        )
        self._dummy: str | None = None
        self.warm_up()  # the first unknown-user sign-in must not cost more than the others
        self._slots = asyncio.Semaphore(max_parallel)  # bounds memory: each verification holds memory_kib

    def hash(self, password: Secret[str]) -> str:
        return self._hasher.hash(_bounded(password))

    def needs_rehash(self, stored: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(stored)
        except (InvalidHashError, ValueError):
            return True

    def verify(self, stored: str | None, password: Secret[str]) -> bool:
        """Constant work whether or not there is a stored hash (``None``: verify against a dummy)."""
        candidate = _bounded(password)
        try:
            if stored is None:
                self._hasher.verify(self._dummy_hash(), candidate)
                return False
            return self._hasher.verify(stored, candidate)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def verify_async(self, stored: str | None, password: Secret[str]) -> bool:
        async with self._slots:
            return await asyncio.to_thread(self.verify, stored, password)

    async def hash_async(self, password: Secret[str]) -> str:
        async with self._slots:
            return await asyncio.to_thread(self.hash, password)

    def _dummy_hash(self) -> str:
        if self._dummy is None:
            self._dummy = self._hasher.hash("tessera-dummy-password-for-unknown-users")
        return self._dummy

    def warm_up(self) -> None:
        """Compute the dummy hash now, so the first unknown-user sign-in is not slower than the rest."""
        self._dummy_hash()


def _bounded(password: Secret[str]) -> str:
    value = normalise_password(password).reveal()
    return value[:MAX_PASSWORD_LENGTH]


__all__ = [
    "ACR_PASSWORD",
    "AUTHENTICATION_PWD",
    "MAX_PASSWORD_LENGTH",
    "Authentication",
    "PasswordHasher",
    "PasswordPolicy",
    "WeakPassword",
    "common_passwords",
    "normalise_password",
]
