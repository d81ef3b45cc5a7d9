"""The STS Query endpoint: identify the action, authenticate the caller, run the action, note the outcome.

``AssumeRoleWithWebIdentity`` and ``AssumeRoleWithSAML`` are unsigned (the token or assertion is
the credential); every other action needs a SigV4 signature with long-term or temporary
credentials. Every request, allowed or refused, leaves one audit event: the action's own
(``sts.assume_role``, ...) or ``sts.request`` when the action could not be identified; a refusal
carries the AWS error code as ``reason``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tessera.domain.audit import AuditAction, AuditNotes
from tessera.domain.aws_identities import MfaAttemptCounter
from tessera.protocols.awssts.assume_role import AssumeRoleAction
from tessera.protocols.awssts.callers import Caller, authenticate
from tessera.protocols.awssts.context import DEFAULT_LIMITS, RememberOnce, StsCall, StsDirectory, StsTenant
from tessera.protocols.awssts.errors import AwsError, ascii_excerpt
from tessera.protocols.awssts.get_session_token import GetSessionTokenAction
from tessera.protocols.awssts.identity_actions import (
    DecodeAuthorizationMessageAction,
    GetAccessKeyInfoAction,
    GetCallerIdentityAction,
)
from tessera.protocols.awssts.mfa import MfaVerifier
from tessera.protocols.awssts.query import parse_parameters, parse_query_request
from tessera.protocols.awssts.responses import StsResult
from tessera.protocols.awssts.saml import AssumeRoleWithSAMLAction
from tessera.protocols.awssts.sigv4 import AwsRequest, SigV4Limits
from tessera.protocols.awssts.sigv4_authorization import parse_authorization
from tessera.protocols.awssts.web_identity import (
    AssumeRoleWithWebIdentityAction,
    IssuerKeys,
    OwnIssuer,
    RevokedTokens,
    WebIdentityVerifier,
)

AUDIT_ACTIONS = {
    "AssumeRole": AuditAction.STS_ASSUME_ROLE,
    "AssumeRoleWithWebIdentity": AuditAction.STS_ASSUME_ROLE_WITH_WEB_IDENTITY,
    "AssumeRoleWithSAML": AuditAction.STS_ASSUME_ROLE_WITH_SAML,
    "GetSessionToken": AuditAction.STS_GET_SESSION_TOKEN,
    "GetCallerIdentity": AuditAction.STS_GET_CALLER_IDENTITY,
    "GetAccessKeyInfo": AuditAction.STS_GET_ACCESS_KEY_INFO,
    "DecodeAuthorizationMessage": AuditAction.STS_DECODE_AUTHORIZATION_MESSAGE,
}
_NOTED_PARAMS = {"RoleArn": "role_arn", "RoleSessionName": "session_name", "PrincipalArn": "provider"}

SignedHandler = Callable[[StsCall, Caller], Awaitable[StsResult]]
UnsignedHandler = Callable[[StsCall], Awaitable[StsResult]]


class StsEndpoint:
    def __init__(
        self,
        directory: StsDirectory,
        remember_once: RememberOnce,
        mfa_attempts: MfaAttemptCounter,
        own_issuer: OwnIssuer,
        revoked_tokens: RevokedTokens,
        issuer_keys: IssuerKeys,
        clock_skew: float,
        limits: SigV4Limits = DEFAULT_LIMITS,
    ) -> None:
        self._directory, self._limits = directory, limits
        verifier = WebIdentityVerifier(own_issuer, revoked_tokens, issuer_keys, directory, clock_skew)
        mfa = MfaVerifier(directory, remember_once, mfa_attempts)
        self._signed: dict[str, SignedHandler] = {
            "AssumeRole": AssumeRoleAction(directory, mfa).handle,
            "GetSessionToken": GetSessionTokenAction(directory, mfa).handle,
            "GetCallerIdentity": GetCallerIdentityAction().handle,
            "GetAccessKeyInfo": GetAccessKeyInfoAction(directory).handle,
            "DecodeAuthorizationMessage": DecodeAuthorizationMessageAction(directory).handle,
        }
        self._unsigned: dict[str, UnsignedHandler] = {
            "AssumeRoleWithWebIdentity": AssumeRoleWithWebIdentityAction(directory, verifier).handle,
            "AssumeRoleWithSAML": AssumeRoleWithSAMLAction(directory, remember_once, clock_skew).handle,
        }

    async def answer(
        self,
        tenant: StsTenant,
        http: AwsRequest,
        notes: AuditNotes,
        *,
        source_ip: str | None = None,
        secure: bool = False,
    ) -> StsResult:
        """The action's result, or the ``AwsError`` to render; the audit notes are filled either way."""
        action = ""
        caller: Caller | None = None
        params: dict[str, str] = {}
        try:
            params = parse_parameters(http.body, http.query)
            query = parse_query_request(params)
            action = query.action
            call = StsCall(tenant, http, query, notes, notes.now, source_ip, secure, self._limits)
            unsigned = self._unsigned.get(action)
            if unsigned is not None:
                return await unsigned(call)
            caller = await authenticate(http, tenant, self._directory, notes.now, limits=self._limits)
            return await self._signed[action](call, caller)
        except AwsError as exc:
            _note_failure(notes, action, exc, caller, http, params)
            raise


def _note_failure(
    notes: AuditNotes, action: str, exc: AwsError, caller: Caller | None, http: AwsRequest, params: dict[str, str]
) -> None:
    details: dict[str, object] = {"action": ascii_excerpt(action or params.get("Action", ""), 64)}
    details["access_key_id"] = caller.access_key_id if caller else _claimed_key_id(http)
    if caller is not None:
        details["principal"] = caller.arn
    for name, key in _NOTED_PARAMS.items():
        if name in params:
            details[key] = ascii_excerpt(params[name], 256)
    notes.note(
        AUDIT_ACTIONS.get(action, AuditAction.STS_REQUEST),
        "failure",
        actor=f"aws:{caller.arn}" if caller else "anonymous",
        reason=exc.code,
        details={k: v for k, v in details.items() if v},
    )


def _claimed_key_id(http: AwsRequest) -> str | None:
    try:
        return parse_authorization(http).access_key_id
    except AwsError:
        return None


__all__ = ["AUDIT_ACTIONS", "StsEndpoint"]
