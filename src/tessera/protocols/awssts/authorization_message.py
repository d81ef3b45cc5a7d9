"""Encoded authorization failure messages (AWS STS API Reference, DecodeAuthorizationMessage).

When a policy denies a request, the ``AccessDenied`` message ends with "Encoded authorization
failure message: <blob>". The blob is the decision's details (allowed, explicitDeny,
matchedStatements, context) as JSON, sealed with AES-256-GCM under the tenant's session-token
key ring, so only Tessera can open it, and only for callers that policies allow
``sts:DecodeAuthorizationMessage`` (the details show the policies' structure).

Layout before unpadded base64url: version (0x02) | key id length | key id | nonce (12) | ciphertext
and tag. The associated data is the header plus a fixed label, so a session token can never be
passed off as a message or the other way round.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tessera.protocols.awssts.errors import InvalidAuthorizationMessageException
from tessera.protocols.awssts.policy_document import PolicyDocument
from tessera.protocols.awssts.policy_evaluation import Decision, DecisionReason, RequestContext

MESSAGE_VERSION = 2
_LABEL = b"tessera-authorization-message"
_INVALID = "The encoded message is not valid."


def describe_decision(
    decision: Decision, context: RequestContext, policies: Sequence[PolicyDocument], principal_id: str
) -> dict[str, Any]:
    """The decoded message, in the shape AWS's DecodeAuthorizationMessage returns."""
    matched = []
    if decision.statement_index is not None:
        matched.append(
            {
                "statementId": decision.statement_sid or "",
                "effect": "Allow" if decision.allowed else "Deny",
                "policySet": decision.policy_set or "identity",
                "policyIndex": decision.policy_index,
                "statementIndex": decision.statement_index,
                "policyCount": len(policies),
            }
        )
    conditions = [
        {"key": key, "values": {"items": [{"value": v} for v in ([value] if isinstance(value, str) else value)]}}
        for key, value in sorted(context.condition_keys.items())
    ]
    principal = context.principal
    return {
        "allowed": decision.allowed,
        "explicitDeny": decision.reason is DecisionReason.EXPLICIT_DENY,
        "matchedStatements": {"items": matched},
        "failures": {"items": []},
        "context": {
            "principal": {"id": principal_id, "arn": principal.identifier if principal else ""},
            "action": context.action,
            "resource": context.resource,
            "conditions": {"items": conditions},
        },
    }


def encode_message(details: Mapping[str, Any], key_id: str, key: bytes) -> str:
    header = bytes((MESSAGE_VERSION, len(key_id))) + key_id.encode("ascii")
    nonce = secrets.token_bytes(12)
    plaintext = zlib.compress(json.dumps(details, separators=(",", ":"), sort_keys=True).encode("utf-8"), 9)
    sealed = header + nonce + AESGCM(key).encrypt(nonce, plaintext, header + _LABEL)
    return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode("ascii")


def decode_message(encoded: str, keys: Mapping[str, bytes]) -> str:
    """The decoded JSON text, or ``InvalidAuthorizationMessageException``."""
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidAuthorizationMessageException(_INVALID) from exc
    if len(raw) < 2 or raw[0] != MESSAGE_VERSION or len(raw) < 2 + raw[1] + 12 + 16:
        raise InvalidAuthorizationMessageException(_INVALID)
    end = 2 + raw[1]
    header, nonce, ciphertext = raw[:end], raw[end : end + 12], raw[end + 12 :]
    key = keys.get(header[2:].decode("ascii", "replace"))
    if key is None:
        raise InvalidAuthorizationMessageException(_INVALID, detail="unknown or expired key")
    try:
        compressed = AESGCM(key).decrypt(nonce, ciphertext, header + _LABEL)
        inflater = zlib.decompressobj()
        text = inflater.decompress(compressed, 262_144)
    except (InvalidTag, zlib.error) as exc:
        raise InvalidAuthorizationMessageException(_INVALID) from exc
    return text.decode("utf-8")


__all__ = ["MESSAGE_VERSION", "decode_message", "describe_decision", "encode_message"]
