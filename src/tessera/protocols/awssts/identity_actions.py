"""Actions about identities themselves: GetCallerIdentity, GetAccessKeyInfo, DecodeAuthorizationMessage.

* GetCallerIdentity needs no permission, and an explicit deny cannot stop it (STS API Reference).
* GetAccessKeyInfo answers the account of a key id: a long-term key must exist in this tenant;
  temporary key ids are not stored (the session token is self-contained), so any well-formed
  ``ASIA`` id is reported as this tenant's account, which is public information here anyway.
* DecodeAuthorizationMessage opens the encoded part of an AccessDenied message Tessera produced,
  for a caller whose policies allow ``sts:DecodeAuthorizationMessage``.
"""

from __future__ import annotations

from tessera.domain.audit import AuditAction
from tessera.protocols.awssts.authorization import caller_permissions, deny, request_condition_keys
from tessera.protocols.awssts.authorization_message import decode_message
from tessera.protocols.awssts.callers import Caller
from tessera.protocols.awssts.context import StsCall, StsDirectory
from tessera.protocols.awssts.errors import InvalidParameterValue
from tessera.protocols.awssts.policy_evaluation import RequestContext
from tessera.protocols.awssts.requests import parse_access_key_id, parse_encoded_message
from tessera.protocols.awssts.responses import StsResult


class GetCallerIdentityAction:
    async def handle(self, call: StsCall, caller: Caller) -> StsResult:
        call.notes.note(
            AuditAction.STS_GET_CALLER_IDENTITY,
            "success",
            actor=f"aws:{caller.arn}",
            details={"access_key_id": caller.access_key_id, "principal": caller.arn, "region": caller.region},
        )
        members = [("UserId", caller.user_id), ("Account", caller.account), ("Arn", caller.arn)]
        return StsResult("GetCallerIdentity", members)


class GetAccessKeyInfoAction:
    def __init__(self, directory: StsDirectory) -> None:
        self._directory = directory

    async def handle(self, call: StsCall, caller: Caller) -> StsResult:
        key_id = parse_access_key_id(call.query)
        known = await self._directory.access_key(call.tenant.id, key_id)
        if known is None and not key_id.startswith("ASIA"):
            raise InvalidParameterValue(f"The access key id {key_id} is not known", reason="InvalidParameterValue")
        call.notes.note(
            AuditAction.STS_GET_ACCESS_KEY_INFO,
            "success",
            actor=f"aws:{caller.arn}",
            details={"access_key_id": caller.access_key_id, "asked_access_key_id": key_id},
        )
        return StsResult("GetAccessKeyInfo", [("Account", call.tenant.account)])


class DecodeAuthorizationMessageAction:
    def __init__(self, directory: StsDirectory) -> None:
        self._directory = directory

    async def handle(self, call: StsCall, caller: Caller) -> StsResult:
        encoded = parse_encoded_message(call.query)
        ring = await self._directory.session_keys(call.tenant.id)
        keys = {**request_condition_keys(call), **caller.condition_keys()}
        context = RequestContext("sts:DecodeAuthorizationMessage", "*", caller.principal, keys)
        decision = caller_permissions(caller, context)
        if not decision.allowed:
            policies = [*caller.identity_policies, *caller.session_policies]
            ring_key = (ring.sealing_key_id, ring.sealing_key)
            raise deny(ring_key, decision, context, policies, caller.user_id, reason="caller permissions")
        decoded = decode_message(encoded, ring.keys)
        call.notes.note(
            AuditAction.STS_DECODE_AUTHORIZATION_MESSAGE,
            "success",
            actor=f"aws:{caller.arn}",
            details={"access_key_id": caller.access_key_id, "principal": caller.arn},
        )
        return StsResult("DecodeAuthorizationMessage", [("DecodedMessage", decoded)])


__all__ = ["DecodeAuthorizationMessageAction", "GetAccessKeyInfoAction", "GetCallerIdentityAction"]
