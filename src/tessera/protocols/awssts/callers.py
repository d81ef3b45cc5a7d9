"""Who signed a request: SigV4 verification with long-term keys or temporary credentials (AWS SigV4 docs).

Long-term keys (``AKIA...``) are looked up in the cached directory. Temporary credentials carry
their secret inside the sealed session token (``X-Amz-Security-Token``): the token is opened with
the tenant's session-key ring and must name the access key id that signed, belong to this
tenant, be unexpired, and not be revoked (its role's ``sessions_revoked_before``, its parent
key's status). No database read happens for either once the cache is warm.

Clock skew: AWS STS answers a header-signed request outside the 15-minute window with
``SignatureDoesNotMatch`` (403, "Signature expired: ..."), and that is what Tessera sends: the
SDKs that correct their clock (Java, Go, JavaScript, .NET) look for that code together with the
response's ``Date`` header; botocore corrects nothing and surfaces either code alike. A
pre-signed URL used after its ``X-Amz-Expires`` is ``RequestExpired`` (400), as documented.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tessera.domain.aws_directory import KnownAccessKey
from tessera.domain.aws_identities import user_arn
from tessera.domain.roles import parse_role_arn
from tessera.protocols.awssts.context import DEFAULT_LIMITS, StsDirectory, StsTenant
from tessera.protocols.awssts.errors import (
    InvalidClientTokenId,
    RegionDisabledException,
    RequestExpired,
    SignatureDoesNotMatch,
)
from tessera.protocols.awssts.policy_document import PolicyDocument, parse_policy
from tessera.protocols.awssts.policy_evaluation import Principal
from tessera.protocols.awssts.policy_matching import ContextValue
from tessera.protocols.awssts.session_token import INVALID_TOKEN, SessionClaims, open_session
from tessera.protocols.awssts.sigv4 import AwsRequest, SignedRequestInfo, SigV4Limits, verify_signature
from tessera.protocols.awssts.sigv4_authorization import parse_authorization
from tessera.secret import Secret

_NOTHING = PolicyDocument(version="2012-10-17", statements=())  # allows nothing: a vanished session policy


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated principal of a request, as policies and GetCallerIdentity see it."""

    access_key_id: str
    arn: str
    user_id: str
    account: str
    principal: Principal
    principal_type: str  # aws:PrincipalType: User or AssumedRole
    region: str
    session: SessionClaims | None = None
    key: KnownAccessKey | None = None
    identity_policies: tuple[PolicyDocument, ...] = ()
    session_policies: tuple[PolicyDocument, ...] = ()
    role_arn: str | None = None
    signed: SignedRequestInfo | None = field(default=None, repr=False)

    @property
    def is_session(self) -> bool:
        return self.session is not None

    @property
    def is_role_session(self) -> bool:
        return self.session is not None and bool(self.session.role_arn)

    @property
    def source_identity(self) -> str | None:
        return self.session.source_identity if self.session else None

    @property
    def session_tags(self) -> Mapping[str, str]:
        return self.session.session_tags if self.session else {}

    @property
    def parent_access_key_id(self) -> str | None:
        if self.session is not None:
            return self.session.parent_access_key_id
        return self.access_key_id

    def condition_keys(self) -> dict[str, ContextValue]:
        """The global condition keys that describe the caller (IAM "AWS global condition context keys")."""
        keys: dict[str, ContextValue] = {
            "aws:PrincipalArn": self.role_arn or self.arn,
            "aws:PrincipalAccount": self.account,
            "aws:PrincipalType": self.principal_type,
            "aws:userid": self.user_id,
            "aws:RequestedRegion": self.region,
        }
        if self.session is None:
            keys["aws:username"] = self.arn.rsplit("/", 1)[-1]
        else:
            keys["aws:MultiFactorAuthPresent"] = "true" if self.session.mfa_authenticated else "false"
            keys["aws:TokenIssueTime"] = _iso(self.session.issued_at)
            if self.session.source_identity:
                keys["aws:SourceIdentity"] = self.session.source_identity
            if self.session.session_tags:
                keys["aws:PrincipalTagKeys"] = tuple(self.session.session_tags)
            for name, value in self.session.session_tags.items():
                keys[f"aws:PrincipalTag/{name}"] = value
        return keys


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def authenticate(
    request: AwsRequest,
    tenant: StsTenant,
    directory: StsDirectory,
    now: float,
    *,
    service: str = "sts",
    limits: SigV4Limits = DEFAULT_LIMITS,
    payload_hash: str | None = None,
) -> Caller:
    """Verify the request's signature and return its caller, or raise the AWS error a client expects."""
    info = parse_authorization(request)
    if not tenant.allows_region(info.region) and service == "sts":
        raise RegionDisabledException(
            f"STS is not activated in this region for account:{tenant.account}. Your account administrator "
            "can activate STS in this region using the IAM Console."
        )
    if info.security_token is not None:
        caller = await _session_caller(info, tenant, directory, now)
        assert caller.session is not None
        secret = caller.session.secret_access_key
    else:
        caller, secret = await _key_caller(info, tenant, directory)
    try:
        verify_signature(info, request, secret, now, service=service, limits=limits, payload_hash=payload_hash)
    except RequestExpired as exc:
        if info.is_presigned:
            raise
        raise SignatureDoesNotMatch(exc.description) from exc
    return caller


async def _key_caller(
    info: SignedRequestInfo, tenant: StsTenant, directory: StsDirectory
) -> tuple[Caller, Secret[str]]:
    known = await directory.access_key(tenant.id, info.access_key_id)
    if known is None or not known.is_usable:
        reason = "unknown access key" if known is None else "inactive access key or principal"
        raise InvalidClientTokenId(INVALID_TOKEN, detail=reason)
    key = known.key
    arn = user_arn(tenant.account, key.principal_name)
    caller = Caller(
        access_key_id=key.access_key_id,
        arn=arn,
        user_id=key.user_id(),
        account=tenant.account,
        principal=Principal(arn, "AWS", tenant.account),
        principal_type="User",
        region=info.region,
        key=known,
        identity_policies=known.policies,
        signed=info,
    )
    return caller, known.secret


async def _session_caller(info: SignedRequestInfo, tenant: StsTenant, directory: StsDirectory, now: float) -> Caller:
    assert info.security_token is not None
    token = info.security_token.reveal()
    ring = await directory.session_keys(tenant.id, _key_id_hint(token))
    claims = open_session(token, ring.keys, now)
    if claims.tenant != tenant.id or claims.access_key_id != info.access_key_id:
        raise InvalidClientTokenId(INVALID_TOKEN, detail="session token of another tenant or access key")
    parent = await _parent_key(claims, tenant, directory)
    if claims.role_arn:
        return await _role_session_caller(claims, info, tenant, directory)
    arn = claims.principal_arn
    return Caller(
        access_key_id=claims.access_key_id,
        arn=arn,
        user_id=claims.assumed_role_id,
        account=tenant.account,
        principal=Principal(arn, "AWS", tenant.account),
        principal_type="User",
        region=info.region,
        session=claims,
        key=parent,
        identity_policies=parent.policies if parent else (),
        signed=info,
    )


async def _parent_key(claims: SessionClaims, tenant: StsTenant, directory: StsDirectory) -> KnownAccessKey | None:
    if claims.parent_access_key_id is None:
        return None
    parent = await directory.access_key(tenant.id, claims.parent_access_key_id)
    if parent is None or not parent.is_usable:
        raise InvalidClientTokenId(INVALID_TOKEN, detail="the session's long-term key is inactive or deleted")
    return parent


async def _role_session_caller(
    claims: SessionClaims, info: SignedRequestInfo, tenant: StsTenant, directory: StsDirectory
) -> Caller:
    parsed = parse_role_arn(claims.role_arn)
    known = None if parsed is None else await directory.role(tenant.id, tenant.account, parsed[2])
    if known is None or known.role.arn(tenant.account) != claims.role_arn:
        raise InvalidClientTokenId(INVALID_TOKEN, detail="the session's role no longer exists")
    if not claims.assumed_role_id.startswith(known.role.role_id + ":"):
        raise InvalidClientTokenId(INVALID_TOKEN, detail="the session's role was deleted and created again")
    if known.role.is_session_revoked(claims.issued_at):
        raise InvalidClientTokenId(INVALID_TOKEN, detail="the role's sessions were revoked")
    session_policies = [parse_policy(text) for text in claims.session_policies]
    for arn in claims.policy_arns:
        session_policies.append(await directory.managed_policy(tenant.id, tenant.account, arn) or _NOTHING)
    return Caller(
        access_key_id=claims.access_key_id,
        arn=claims.principal_arn,
        user_id=claims.assumed_role_id,
        account=tenant.account,
        principal=Principal(claims.principal_arn, "AWS", tenant.account, aliases=(claims.role_arn,)),
        principal_type="AssumedRole",
        region=info.region,
        session=claims,
        identity_policies=known.permissions,
        session_policies=tuple(session_policies),
        role_arn=claims.role_arn,
        signed=info,
    )


def _key_id_hint(token: str) -> str | None:
    """The key id in a session token's header, read without authenticating (for a ring reload only)."""
    try:
        head = base64.urlsafe_b64decode(token[:120] + "=" * (-len(token[:120]) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(head) < 2:
        return None
    raw = head[2 : 2 + head[1]]
    return raw.decode("ascii", "replace") if len(raw) == head[1] else None


__all__ = ["Caller", "authenticate"]
