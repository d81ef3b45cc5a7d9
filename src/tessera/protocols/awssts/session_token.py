"""Self-contained session tokens for temporary credentials (Tessera session token format, version 1).

AWS's ``SessionToken`` is opaque to clients; Tessera's carries everything a node needs to
verify a SigV4 request made with the temporary credentials, the secret access key included,
so no database read is needed per request. Layout, before unpadded URL-safe base64::

    version (1 byte, 0x01) | key id length (1 byte) | key id (ASCII) | nonce (12 bytes)
    | AES-256-GCM ciphertext and 16-byte tag

The AES-GCM associated data is the header (version, key id length, key id), so neither can
be changed without failing authentication. The plaintext is the claims as compact JSON,
compressed with zlib. A 96-bit random nonce per token keeps the collision bound of NIST SP
800-38D section 8.3 far away for any realistic number of tokens per key.

Compression before encryption leaks the plaintext's compressed length, which matters when an
attacker can place chosen text next to a secret and observe many lengths (CRIME, BREACH).
Here the caller controls part of the plaintext (session name, tags, policies) and sees the
token, but the only secret inside is the freshly random secret access key, which the same
response hands to that caller anyway, and which is new for every token; there is nothing
across tokens to converge on. Everything else in the claims the caller either chose or may
read through GetCallerIdentity.

Errors follow AWS: a token that does not decode, authenticate or parse, or names an unknown
key, is ``InvalidClientTokenId``; an authentic token past ``expires_at`` is ``ExpiredToken``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tessera.protocols.awssts.errors import ExpiredToken, InvalidClientTokenId
from tessera.secret import Secret

TOKEN_VERSION = 1
KEY_BYTES = 32
NONCE_BYTES = 12
MAX_TOKEN_CHARS = 8192
MAX_PAYLOAD_BYTES = 65_536
ACCESS_KEY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

INVALID_TOKEN = "The security token included in the request is invalid."
EXPIRED_TOKEN = "The security token included in the request is expired"

_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}\Z")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]+\Z")
_TAG_BYTES = 16

RandomBytes = Callable[[int], bytes]
_T = TypeVar("_T")


@dataclass(frozen=True)
class SessionClaims:
    """What a temporary credential is: who, for how long, with which limits.

    ``session_policies`` are minified JSON texts. ``issued_at``, ``expires_at`` and
    ``generation`` let callers revoke, e.g., every session of a role issued before a time or
    under an older generation counter; ``parent_access_key_id`` lets them refuse the sessions
    of a long-term key that was disabled or deleted.
    """

    tenant: str
    access_key_id: str
    secret_access_key: Secret[str]
    principal_arn: str
    assumed_role_id: str
    role_arn: str
    session_name: str
    issued_at: float
    expires_at: float
    source_identity: str | None = None
    session_policies: tuple[str, ...] = ()
    policy_arns: tuple[str, ...] = ()
    session_tags: Mapping[str, str] = field(default_factory=dict)
    transitive_tag_keys: tuple[str, ...] = ()
    mfa_authenticated: bool = False
    source_principal: str | None = None
    generation: int = 0
    parent_access_key_id: str | None = None  # the long-term key the session descends from, if any

    def is_expired(self, now: float) -> bool:
        return now >= self.expires_at


def seal_session(
    claims: SessionClaims, key: bytes, key_id: str, *, random_bytes: RandomBytes = secrets.token_bytes
) -> str:
    """Encrypt ``claims`` under ``key`` (AES-256-GCM) into a session token string."""
    if len(key) != KEY_BYTES:
        raise ValueError("session token keys are 32 bytes (AES-256)")
    if not _KEY_ID.match(key_id):
        raise ValueError("session token key ids are 1-64 characters of A-Z a-z 0-9 . _ -")
    header = bytes((TOKEN_VERSION, len(key_id))) + key_id.encode("ascii")
    nonce = random_bytes(NONCE_BYTES)
    plaintext = zlib.compress(_encode_claims(claims), 9)
    sealed = header + nonce + AESGCM(key).encrypt(nonce, plaintext, header)
    return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode("ascii")


def open_session(token: str, keys: Mapping[str, bytes], now: float) -> SessionClaims:
    """Authenticate, decrypt and check the expiry of a session token from ``seal_session``."""
    header, nonce, ciphertext = _split(token)
    key_id = header[2:].decode("ascii")
    key = keys.get(key_id)
    if key is None:
        raise InvalidClientTokenId(INVALID_TOKEN, detail=f"unknown session key id {key_id!r}")
    try:
        plaintext = AESGCM(key).decrypt(nonce, ciphertext, header)
    except InvalidTag as exc:
        raise InvalidClientTokenId(INVALID_TOKEN, detail="session token failed authentication") from exc
    claims = _decode_claims(_inflate(plaintext))
    if claims.is_expired(now):
        raise ExpiredToken(EXPIRED_TOKEN, detail=f"expired at {claims.expires_at}")
    return claims


def new_access_key_id(
    prefix: Literal["ASIA", "AKIA"] = "ASIA", *, random_bytes: RandomBytes = secrets.token_bytes
) -> str:
    """An AWS-shaped access key id: the prefix and 16 characters of the base32 alphabet."""
    return prefix + base64.b32encode(random_bytes(10)).decode("ascii")


def new_secret_access_key(*, random_bytes: RandomBytes = secrets.token_bytes) -> Secret[str]:
    """A 40-character secret access key (240 random bits, standard base64), like AWS's."""
    return Secret(base64.b64encode(random_bytes(30)).decode("ascii"))


# --- Wire format -------------------------------------------------------------------------------


def _split(token: str) -> tuple[bytes, bytes, bytes]:
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS or not _TOKEN.match(token):
        raise InvalidClientTokenId(INVALID_TOKEN, detail="session token is not unpadded base64url")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidClientTokenId(INVALID_TOKEN, detail="session token is not base64url") from exc
    if len(raw) < 2 or raw[0] != TOKEN_VERSION:
        raise InvalidClientTokenId(INVALID_TOKEN, detail="unknown session token version")
    end = 2 + raw[1]
    header = raw[:end]
    if raw[1] == 0 or len(raw) < end + NONCE_BYTES + _TAG_BYTES or not _KEY_ID.match(_ascii(header[2:])):
        raise InvalidClientTokenId(INVALID_TOKEN, detail="session token header is malformed")
    return header, raw[end : end + NONCE_BYTES], raw[end + NONCE_BYTES :]


def _ascii(raw: bytes) -> str:
    return raw.decode("ascii", "replace")


def _inflate(compressed: bytes) -> bytes:
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(compressed, MAX_PAYLOAD_BYTES)
    except zlib.error as exc:
        raise InvalidClientTokenId(INVALID_TOKEN, detail="session token payload does not inflate") from exc
    if inflater.unconsumed_tail or not inflater.eof:
        raise InvalidClientTokenId(INVALID_TOKEN, detail="session token payload is too large or truncated")
    return data


def _encode_claims(claims: SessionClaims) -> bytes:
    """Compact JSON with short names; optional claims at their defaults are left out."""
    body: dict[str, Any] = {
        "t": claims.tenant,
        "k": claims.access_key_id,
        "s": claims.secret_access_key.reveal(),
        "p": claims.principal_arn,
        "r": claims.assumed_role_id,
        "a": claims.role_arn,
        "n": claims.session_name,
        "i": _compact_number(claims.issued_at),
        "e": _compact_number(claims.expires_at),
    }
    optional: dict[str, Any] = {
        "si": claims.source_identity,
        "sp": list(claims.session_policies),
        "pa": list(claims.policy_arns),
        "tg": dict(claims.session_tags),
        "tt": list(claims.transitive_tag_keys),
        "m": claims.mfa_authenticated,
        "sr": claims.source_principal,
        "g": claims.generation,
        "pk": claims.parent_access_key_id,
    }
    body.update({name: value for name, value in optional.items() if value not in (None, [], {}, False, 0)})
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _compact_number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _decode_claims(data: bytes) -> SessionClaims:
    try:
        body = json.loads(data)
        if not isinstance(body, dict):
            raise TypeError("claims are not an object")
        return SessionClaims(
            tenant=_text(body["t"]),
            access_key_id=_text(body["k"]),
            secret_access_key=Secret(_text(body["s"])),
            principal_arn=_text(body["p"]),
            assumed_role_id=_text(body["r"]),
            role_arn=_text(body["a"]),
            session_name=_text(body["n"]),
            issued_at=_number(body["i"]),
            expires_at=_number(body["e"]),
            source_identity=_optional_text(body.get("si")),
            session_policies=_texts(body.get("sp", [])),
            policy_arns=_texts(body.get("pa", [])),
            session_tags=_tags(body.get("tg", {})),
            transitive_tag_keys=_texts(body.get("tt", [])),
            mfa_authenticated=_of_type(body.get("m", False), bool),
            source_principal=_optional_text(body.get("sr")),
            generation=_of_type(body.get("g", 0), int),
            parent_access_key_id=_optional_text(body.get("pk")),
        )
    except (ValueError, TypeError, KeyError) as exc:
        raise InvalidClientTokenId(INVALID_TOKEN, detail="session token claims are malformed") from exc


def _text(value: Any) -> str:
    return _of_type(value, str)


def _optional_text(value: Any) -> str | None:
    return None if value is None else _text(value)


def _texts(value: Any) -> tuple[str, ...]:
    return tuple(_text(item) for item in _of_type(value, list))


def _tags(value: Any) -> dict[str, str]:
    return {_text(key): _text(item) for key, item in _of_type(value, dict).items()}


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("claim is not a number")
    return float(value)


def _of_type(value: Any, kind: type[_T]) -> _T:
    if type(value) is not kind:
        raise TypeError(f"claim is not a {kind.__name__}")
    return value


__all__ = [
    "ACCESS_KEY_ALPHABET",
    "EXPIRED_TOKEN",
    "INVALID_TOKEN",
    "KEY_BYTES",
    "MAX_TOKEN_CHARS",
    "TOKEN_VERSION",
    "SessionClaims",
    "new_access_key_id",
    "new_secret_access_key",
    "open_session",
    "seal_session",
]
