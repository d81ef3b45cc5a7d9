"""Signing keys: generation, sealing under the key-encryption key, rotation and the published JWKS.

Life of a key: ``next`` (published, not signing) → ``active`` (signs) → ``retired`` (published
until every token it signed has expired) → deleted. Publishing the next key before it signs lets
relying parties that cache the JWKS verify the first token the new key signs.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from joserfc.jwk import ECKey, OKPKey, RSAKey

from tessera.domain.jws import ALGORITHMS, PrivateKey, PublicKey, encode_header, sign_compact
from tessera.errors import KeyEncryptionKeyError

KEK_BYTES = 32


class KeyState(StrEnum):
    NEXT = "next"
    ACTIVE = "active"
    RETIRED = "retired"


class KeyEncryptionKey:
    """AES-256-GCM key that seals private keys at rest; it never lives in the database."""

    __slots__ = ("_aead", "kek_id")

    def __init__(self, raw: bytes) -> None:
        if len(raw) != KEK_BYTES:
            raise KeyEncryptionKeyError(f"the key-encryption key must be {KEK_BYTES} bytes, got {len(raw)}")
        self._aead = AESGCM(raw)
        self.kek_id = hashlib.sha256(b"tessera-kek-id:" + raw).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"KeyEncryptionKey(kek_id={self.kek_id!r})"

    def seal(self, plaintext: bytes, context: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, plaintext, context.encode())

    def open(self, sealed: bytes, context: str) -> bytes:
        try:
            return self._aead.decrypt(sealed[:12], sealed[12:], context.encode())
        except (InvalidTag, ValueError):
            raise KeyEncryptionKeyError(
                f"cannot decrypt {context}: the key-encryption key (id {self.kek_id}) is not the one it was sealed with"
            ) from None


@dataclass(frozen=True, slots=True)
class StoredKey:
    """A signing key as the store holds it: the private part sealed under the KEK."""

    tenant_id: str
    kid: str
    alg: str
    state: KeyState
    public_jwk: dict[str, Any]
    sealed_private_key: bytes
    kek_id: str
    created_at: float
    activated_at: float | None = None
    retired_at: float | None = None
    publish_until: float | None = None

    def is_published(self, now: float) -> bool:
        return self.state != KeyState.RETIRED or (self.publish_until is not None and now < self.publish_until)


def generate_private_key(alg: str) -> PrivateKey:
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(f"unsupported signing algorithm {alg!r}; choose one of {', '.join(ALGORITHMS)}")


def public_jwk(key: PrivateKey | PublicKey, alg: str) -> dict[str, Any]:
    """The public JWK (RFC 7517) with ``kid`` = its RFC 7638 thumbprint, ``alg`` and ``use``."""
    jwk: ECKey | RSAKey | OKPKey
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        jwk = ECKey.import_key(key)
    elif isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        jwk = RSAKey.import_key(key)
    else:
        jwk = OKPKey.import_key(key)
    data: dict[str, Any] = dict(jwk.as_dict(private=False))
    data.update(kid=jwk.thumbprint(), alg=alg, use="sig")
    return data


def new_stored_key(
    tenant_id: str, alg: str, kek: KeyEncryptionKey, now: float, state: KeyState = KeyState.NEXT
) -> StoredKey:
    private = generate_private_key(alg)
    jwk = public_jwk(private, alg)
    der = private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return StoredKey(
        tenant_id=tenant_id,
        kid=jwk["kid"],
        alg=alg,
        state=state,
        public_jwk=jwk,
        sealed_private_key=kek.seal(der, _seal_context(tenant_id, jwk["kid"])),
        kek_id=kek.kek_id,
        created_at=now,
        activated_at=now if state == KeyState.ACTIVE else None,
    )


def unseal_private_key(stored: StoredKey, kek: KeyEncryptionKey) -> PrivateKey:
    der = kek.open(stored.sealed_private_key, _seal_context(stored.tenant_id, stored.kid))
    key = serialization.load_der_private_key(der, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        raise KeyEncryptionKeyError(f"key {stored.kid} is of an unsupported type")
    return key


def _seal_context(tenant_id: str, kid: str) -> str:
    return f"tessera signing key {tenant_id}/{kid}"


# Rotation rules (pure) ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class KeyChanges:
    """What a lifecycle step does to a tenant's keys."""

    added: list[StoredKey] = field(default_factory=list)
    updated: list[StoredKey] = field(default_factory=list)
    deleted: list[StoredKey] = field(default_factory=list)

    def is_empty(self) -> bool:
        return not (self.added or self.updated or self.deleted)


def plan_bootstrap(
    tenant_id: str, keys: Sequence[StoredKey], alg: str, kek: KeyEncryptionKey, now: float
) -> KeyChanges:
    """Make sure a tenant has one active key and one published next key."""
    changes = KeyChanges()
    nexts = [k for k in keys if k.state == KeyState.NEXT]
    if not any(k.state == KeyState.ACTIVE for k in keys):
        if nexts:
            changes.updated.append(replace(nexts.pop(0), state=KeyState.ACTIVE, activated_at=now))
        else:
            changes.added.append(new_stored_key(tenant_id, alg, kek, now, KeyState.ACTIVE))
    if not nexts:
        changes.added.append(new_stored_key(tenant_id, alg, kek, now, KeyState.NEXT))
    return changes


def plan_rotation(
    tenant_id: str,
    keys: Sequence[StoredKey],
    alg: str,
    kek: KeyEncryptionKey,
    now: float,
    max_token_lifetime: float,
) -> KeyChanges:
    """Retire the active key, activate the published next key, publish a new next key."""
    changes = KeyChanges()
    for key in keys:
        if key.state == KeyState.ACTIVE:
            changes.updated.append(
                replace(key, state=KeyState.RETIRED, retired_at=now, publish_until=now + max_token_lifetime)
            )
    nexts = sorted((k for k in keys if k.state == KeyState.NEXT), key=lambda k: k.created_at)
    if nexts:  # the oldest published next key has been in relying parties' caches longest
        changes.updated.append(replace(nexts[0], state=KeyState.ACTIVE, activated_at=now))
    else:  # nothing was published ahead: the new key signs at once (only after a broken bootstrap)
        changes.added.append(new_stored_key(tenant_id, alg, kek, now, KeyState.ACTIVE))
    changes.added.append(new_stored_key(tenant_id, alg, kek, now, KeyState.NEXT))
    changes.deleted.extend(plan_expiry(keys, now).deleted)
    return changes


def plan_expiry(keys: Iterable[StoredKey], now: float) -> KeyChanges:
    """Delete retired keys once every token they signed has expired."""
    return KeyChanges(deleted=[k for k in keys if not k.is_published(now)])


# The in-memory view the hot path uses -------------------------------------------------------------
class Signer:
    """Signs JWTs with one unsealed key; headers are encoded once per ``typ``."""

    __slots__ = ("_headers", "_key", "alg", "kid")

    def __init__(self, kid: str, alg: str, key: PrivateKey) -> None:
        self.kid, self.alg, self._key = kid, alg, key
        self._headers: dict[str, bytes] = {}

    def sign(self, claims: dict[str, Any], typ: str = "JWT") -> str:
        header = self._headers.get(typ)
        if header is None:
            header = self._headers[typ] = encode_header(self.alg, self.kid, typ)
        return sign_compact(header, claims, self.alg, self._key)


@dataclass(frozen=True, slots=True)
class KeyRing:
    """One tenant's keys as the token service sees them."""

    signer: Signer
    verification_keys: dict[str, tuple[str, PublicKey]]
    jwks_json: bytes

    @classmethod
    def build(cls, keys: Sequence[StoredKey], kek: KeyEncryptionKey, now: float) -> KeyRing:
        active = [k for k in keys if k.state == KeyState.ACTIVE]
        if not active:
            raise KeyEncryptionKeyError("tenant has no active signing key (run tessera keys rotate)")
        newest = max(active, key=lambda k: k.activated_at or 0.0)
        private = unseal_private_key(newest, kek)
        published = sorted((k for k in keys if k.is_published(now)), key=_publication_order)
        verification: dict[str, tuple[str, PublicKey]] = {newest.kid: (newest.alg, private.public_key())}
        for key in published:
            if key.kid not in verification:
                verification[key.kid] = (key.alg, _public_from_jwk(key.public_jwk))
        jwks = json.dumps({"keys": [k.public_jwk for k in published]}, separators=(",", ":")).encode()
        return cls(Signer(newest.kid, newest.alg, private), verification, jwks)


def _publication_order(key: StoredKey) -> tuple[int, float]:
    rank = {KeyState.ACTIVE: 0, KeyState.NEXT: 1, KeyState.RETIRED: 2}[key.state]
    return rank, -key.created_at


def _public_from_jwk(jwk: dict[str, Any]) -> PublicKey:
    kty = jwk.get("kty")
    imported: ECKey | RSAKey | OKPKey
    if kty == "EC":
        imported = ECKey.import_key(jwk)
    elif kty == "RSA":
        imported = RSAKey.import_key(jwk)
    else:
        imported = OKPKey.import_key(jwk)
    public = imported.public_key
    if not isinstance(public, ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        raise ValueError("unsupported public key type")
    return public


__all__ = [
    "KEK_BYTES",
    "KeyChanges",
    "KeyEncryptionKey",
    "KeyRing",
    "KeyState",
    "Signer",
    "StoredKey",
    "generate_private_key",
    "new_stored_key",
    "plan_bootstrap",
    "plan_expiry",
    "plan_rotation",
    "public_jwk",
    "unseal_private_key",
]
