"""Making temporary credentials: session policies, session tags, duration, and the sealed session token.

Rules from the STS API Reference (AssumeRole, "Session policies", "Passing session tags"):
DurationSeconds is 900 seconds to the role's maximum (one hour when a role session assumes a
role: role chaining), 3600 by default; the inline policy is 1-2,048 characters of the allowed
set and must parse; PolicyArns name the tenant's managed policies; tags are at most 50, keys
unique regardless of case, and the calling session's transitive tags pass on and cannot be
overwritten; the packed size of policies and tags must stay within the budget.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from tessera.domain.sts_keys import SessionKeyRing
from tessera.protocols.awssts.callers import Caller
from tessera.protocols.awssts.context import StsDirectory, StsTenant
from tessera.protocols.awssts.errors import InvalidParameterValue, ValidationError
from tessera.protocols.awssts.policy_document import PolicyDocument, minify_policy, parse_policy
from tessera.protocols.awssts.policy_size import check_packed_policy_size, check_session_policy_text
from tessera.protocols.awssts.requests import SessionPolicyInput, check_range
from tessera.protocols.awssts.responses import Credentials
from tessera.protocols.awssts.session_token import (
    SessionClaims,
    new_access_key_id,
    new_secret_access_key,
    seal_session,
)
from tessera.secret import Secret

DEFAULT_DURATION = 3600
MIN_DURATION = 900
ROLE_CHAINING_LIMIT = 3600


@dataclass(frozen=True, slots=True)
class SessionPolicies:
    texts: tuple[str, ...] = ()
    arns: tuple[str, ...] = ()
    documents: tuple[PolicyDocument, ...] = ()


@dataclass(frozen=True, slots=True)
class SessionGrant:
    """Everything a new session token will say about its holder."""

    principal_arn: str
    assumed_role_id: str
    session_name: str
    duration: int
    role_arn: str = ""
    source_identity: str | None = None
    policies: SessionPolicies = SessionPolicies()
    tags: Mapping[str, str] = field(default_factory=dict)
    transitive_tag_keys: tuple[str, ...] = ()
    mfa_authenticated: bool = False
    source_principal: str | None = None
    parent_access_key_id: str | None = None


async def read_session_policies(
    request: SessionPolicyInput, tenant: StsTenant, directory: StsDirectory
) -> SessionPolicies:
    """Check and parse the inline session policy and resolve the managed policy ARNs."""
    texts: list[str] = []
    documents: list[PolicyDocument] = []
    if request.policy is not None:
        check_session_policy_text(request.policy)
        documents.append(parse_policy(request.policy))
        texts.append(minify_policy(request.policy))
    for arn in request.policy_arns:
        policy = await directory.managed_policy(tenant.id, tenant.account, arn)
        if policy is None:
            raise InvalidParameterValue(f"Policy {arn} does not exist or is not attachable.")
        documents.append(policy)
    return SessionPolicies(tuple(texts), request.policy_arns, tuple(documents))


def session_duration(
    requested: int | None, maximum: int, caller: Caller | None, *, member: str = "durationSeconds"
) -> int:
    """DurationSeconds within 900..``maximum`` (AWS wording for each violation)."""
    if requested is None:
        return min(DEFAULT_DURATION, maximum)
    check_range(requested, member, MIN_DURATION, 43_200)
    if caller is not None and caller.is_role_session and requested > ROLE_CHAINING_LIMIT:
        raise ValidationError(
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
        )
    if requested > maximum:
        raise ValidationError("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
    return requested


def merge_tags(
    tags: Sequence[tuple[str, str]], transitive: Sequence[str], caller: Caller | None
) -> tuple[dict[str, str], tuple[str, ...]]:
    """The new session's tags and transitive keys: the caller's transitive tags, then the request's."""
    inherited: dict[str, str] = {}
    inherited_keys: tuple[str, ...] = ()
    if caller is not None and caller.session is not None:
        inherited_keys = caller.session.transitive_tag_keys
        inherited = {k: v for k, v in caller.session.session_tags.items() if k in inherited_keys}
    merged = dict(inherited)
    seen = {k.lower() for k in merged}
    for key, value in tags:
        if key.lower() in seen:
            if key.lower() in {k.lower() for k in inherited}:
                raise InvalidParameterValue(
                    "One or more session tags cannot be overwritten: they are transitive tags of the calling session"
                )
            raise InvalidParameterValue("Duplicate tag keys found. Please note that Tag keys are case insensitive.")
        seen.add(key.lower())
        merged[key] = value
    requested = {k.lower() for k, _ in tags}
    for key in transitive:
        if key.lower() not in requested:
            raise InvalidParameterValue(f"The transitive tag key {key} is not one of the session tags")
    keys = tuple(dict.fromkeys([*inherited_keys, *transitive]))
    return merged, keys


def check_packed_size(policies: SessionPolicies, tags: Mapping[str, str], transitive: Sequence[str]) -> int:
    return check_packed_policy_size(
        policies.texts, policy_arns=policies.arns, tags=tags, transitive_tag_keys=transitive
    )


def mint_session(grant: SessionGrant, tenant: StsTenant, ring: SessionKeyRing, now: float) -> Credentials:
    """Seal a new session token and return the credentials that go with it."""
    access_key_id = new_access_key_id("ASIA")
    secret = new_secret_access_key()
    expires_at = float(int(now) + grant.duration)
    claims = SessionClaims(
        tenant=tenant.id,
        access_key_id=access_key_id,
        secret_access_key=secret,
        principal_arn=grant.principal_arn,
        assumed_role_id=grant.assumed_role_id,
        role_arn=grant.role_arn,
        session_name=grant.session_name,
        issued_at=now,
        expires_at=expires_at,
        source_identity=grant.source_identity,
        session_policies=grant.policies.texts,
        policy_arns=grant.policies.arns,
        session_tags=dict(grant.tags),
        transitive_tag_keys=grant.transitive_tag_keys,
        mfa_authenticated=grant.mfa_authenticated,
        source_principal=grant.source_principal,
        parent_access_key_id=grant.parent_access_key_id,
    )
    token = seal_session(claims, ring.sealing_key, ring.sealing_key_id)
    return Credentials(access_key_id, secret, Secret(token), expires_at)


__all__ = [
    "DEFAULT_DURATION",
    "MIN_DURATION",
    "ROLE_CHAINING_LIMIT",
    "SessionGrant",
    "SessionPolicies",
    "check_packed_size",
    "merge_tags",
    "mint_session",
    "read_session_policies",
    "session_duration",
]
