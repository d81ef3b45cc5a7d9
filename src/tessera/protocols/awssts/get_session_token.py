"""GetSessionToken (AWS STS API Reference): temporary credentials for a long-term key, optionally with MFA.

Only long-term keys may call it ("Cannot call GetSessionToken with session credentials").
DurationSeconds is 900 to 129,600 (36 hours), 43,200 by default. The session acts with the
key's own policy, read fresh on every request, and stops working when the key is disabled or
deleted (a departure from AWS, where the session would live on: a leaked key is cut off whole).
"""

from __future__ import annotations

from tessera.domain.audit import AuditAction
from tessera.protocols.awssts.callers import Caller
from tessera.protocols.awssts.context import StsCall, StsDirectory
from tessera.protocols.awssts.errors import AccessDenied
from tessera.protocols.awssts.mfa import MfaVerifier
from tessera.protocols.awssts.requests import check_range, parse_get_session_token
from tessera.protocols.awssts.responses import StsResult
from tessera.protocols.awssts.sessions import SessionGrant, mint_session

DEFAULT_DURATION = 43_200
MAX_DURATION = 129_600


class GetSessionTokenAction:
    def __init__(self, directory: StsDirectory, mfa: MfaVerifier) -> None:
        self._directory, self._mfa = directory, mfa

    async def handle(self, call: StsCall, caller: Caller) -> StsResult:
        request = parse_get_session_token(call.query)
        duration = DEFAULT_DURATION if request.duration_seconds is None else request.duration_seconds
        check_range(duration, "durationSeconds", 900, MAX_DURATION)
        if caller.is_session:
            raise AccessDenied("Cannot call GetSessionToken with session credentials", reason="AccessDenied")
        tenant = call.tenant
        mfa = await self._mfa.verify(caller, request.serial_number, request.token_code, tenant, call.now)
        ring = await self._directory.session_keys(tenant.id)
        grant = SessionGrant(
            principal_arn=caller.arn,
            assumed_role_id=caller.user_id,
            session_name="",
            duration=duration,
            mfa_authenticated=mfa,
            source_principal=caller.arn,
            parent_access_key_id=caller.access_key_id,
        )
        credentials = mint_session(grant, tenant, ring, call.now)
        call.notes.note(
            AuditAction.STS_GET_SESSION_TOKEN,
            "success",
            actor=f"aws:{caller.arn}",
            token_id=credentials.access_key_id,
            details={
                "access_key_id": caller.access_key_id,
                "principal": caller.arn,
                "new_access_key_id": credentials.access_key_id,
                "duration": duration,
                "mfa": mfa,
                "region": caller.region,
            },
        )
        return StsResult("GetSessionToken", [credentials.members()], credentials)


__all__ = ["DEFAULT_DURATION", "MAX_DURATION", "GetSessionTokenAction"]
