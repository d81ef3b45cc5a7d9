"""AssumeRole (AWS STS API Reference, "AssumeRole"): temporary credentials for a role, for a signed caller.

Order of checks, as STS answers them: parameter constraints (``ValidationError``), the role
(``AccessDenied`` when it does not exist or is another account's, to reveal nothing), MFA when
given, session policies (``MalformedPolicyDocument``, ``InvalidParameterValue``), session tags,
the trust policy and the caller's own permissions (``AccessDenied``), the duration against the
role's maximum (``ValidationError``), the packed size (``PackedPolicyTooLarge``).

Whose policies decide (IAM User Guide, "Policy evaluation logic", one account): the role's trust
policy must allow every action asked (``sts:AssumeRole``, plus ``sts:TagSession`` and
``sts:SetSourceIdentity`` when used), and an explicit Deny in the caller's own policies refuses
whatever the trust policy says. Then, by caller:

* a role session (role chaining): its own permissions (role policies ∩ session policies) must
  allow the actions on the role's ARN;
* a long-term key with a key policy, or a GetSessionToken session of such a key: a trust policy
  that names the key's ARN (``arn:aws:iam::<account>:user/<name>``) suffices, as it does for an
  IAM user in the same account; a trust policy that admits it only through the account
  (``arn:aws:iam::<account>:root``) or ``"*"`` needs the key policy to allow the actions on the
  role's ARN too (Tessera is stricter than IAM for ``"*"``, which IAM treats as naming the caller);
* a long-term key without a key policy (and its GetSessionToken sessions): the account's
  administrator, as if its policy allowed ``*`` — the trust policy alone decides, which keeps
  ``assume_role(RoleArn=...:role/MyRole)`` working against a role that trusts the account root.
  Give a key a policy to restrict it.
"""

from __future__ import annotations

from tessera.domain.audit import AuditAction
from tessera.domain.aws_directory import KnownRole
from tessera.domain.roles import parse_role_arn
from tessera.protocols.awssts.authorization import (
    caller_permissions,
    deny,
    direct_grant,
    request_condition_keys,
    trust_decisions,
)
from tessera.protocols.awssts.callers import Caller
from tessera.protocols.awssts.context import StsCall, StsDirectory
from tessera.protocols.awssts.errors import AccessDenied, ValidationError
from tessera.protocols.awssts.mfa import MfaVerifier
from tessera.protocols.awssts.policy_document import PolicyDocument
from tessera.protocols.awssts.policy_evaluation import Decision, DecisionReason, RequestContext, evaluate
from tessera.protocols.awssts.policy_matching import ContextValue
from tessera.protocols.awssts.requests import AssumeRoleRequest, check_range, parse_assume_role
from tessera.protocols.awssts.responses import StsResult, assumed_role_user
from tessera.protocols.awssts.sessions import (
    MIN_DURATION,
    SessionGrant,
    check_packed_size,
    merge_tags,
    mint_session,
    read_session_policies,
    session_duration,
)


async def resolve_role(call: StsCall, directory: StsDirectory, role_arn: str, who: str, action: str) -> KnownRole:
    """The role an ARN names in this tenant, or the ``AccessDenied`` STS gives for a role it will not reveal."""
    parsed = parse_role_arn(role_arn)
    known = None
    if parsed is not None and parsed[0] == call.tenant.account:
        known = await directory.role(call.tenant.id, call.tenant.account, parsed[2])
    if known is None or known.role.arn(call.tenant.account) != role_arn:
        raise AccessDenied(
            f"{who} is not authorized to perform: {action} on resource: {role_arn}",
            reason="AccessDenied",
            detail="no such role in this tenant",
        )
    return known


def source_identity_for(requested: str | None, caller: Caller | None) -> str | None:
    """A session's source identity passes on to the sessions it makes and cannot be changed."""
    inherited = caller.source_identity if caller is not None else None
    if inherited is not None and requested is not None and requested != inherited:
        raise ValidationError("The source identity of a session cannot be changed once it is set (role chaining).")
    return requested or inherited


def session_condition_keys(
    role_session_name: str, tags: dict[str, str], transitive: tuple[str, ...], source_identity: str | None
) -> dict[str, ContextValue]:
    keys: dict[str, ContextValue] = {"sts:RoleSessionName": role_session_name}
    if tags:
        keys["aws:TagKeys"] = tuple(tags)
        for name, value in tags.items():
            keys[f"aws:RequestTag/{name}"] = value
    if transitive:
        keys["sts:TransitiveTagKeys"] = transitive
    if source_identity is not None:
        keys["sts:SourceIdentity"] = source_identity
    return keys


class AssumeRoleAction:
    def __init__(self, directory: StsDirectory, mfa: MfaVerifier) -> None:
        self._directory, self._mfa = directory, mfa

    async def handle(self, call: StsCall, caller: Caller) -> StsResult:
        request = parse_assume_role(call.query)
        if request.session.duration_seconds is not None:
            check_range(request.session.duration_seconds, "durationSeconds", MIN_DURATION, 43_200)
        tenant, directory = call.tenant, self._directory
        known = await resolve_role(call, directory, request.role_arn, f"User: {caller.arn}", "sts:AssumeRole")
        mfa = await self._mfa.verify(caller, request.serial_number, request.token_code, tenant, call.now)
        policies = await read_session_policies(request.session, tenant, directory)
        tags, transitive = merge_tags(request.tags, request.transitive_tag_keys, caller)
        source_identity = source_identity_for(request.source_identity, caller)
        keys = self._condition_keys(call, caller, request, tags, transitive, mfa)
        await self._authorize(call, caller, known, request, keys)
        duration = session_duration(request.session.duration_seconds, known.role.spec.max_session_duration, caller)
        packed = check_packed_size(policies, tags, transitive)
        ring = await directory.session_keys(tenant.id)
        role = known.role
        grant = SessionGrant(
            principal_arn=role.session_arn(tenant.account, request.role_session_name),
            assumed_role_id=f"{role.role_id}:{request.role_session_name}",
            session_name=request.role_session_name,
            duration=duration,
            role_arn=request.role_arn,
            source_identity=source_identity,
            policies=policies,
            tags=tags,
            transitive_tag_keys=transitive,
            mfa_authenticated=mfa or bool(caller.session and caller.session.mfa_authenticated),
            source_principal=caller.arn,
            parent_access_key_id=caller.parent_access_key_id,
        )
        credentials = mint_session(grant, tenant, ring, call.now)
        members = [credentials.members(), assumed_role_user(grant.assumed_role_id, grant.principal_arn)]
        members.append(("PackedPolicySize", packed))
        if source_identity:
            members.append(("SourceIdentity", source_identity))
        call.notes.note(
            AuditAction.STS_ASSUME_ROLE,
            "success",
            actor=f"aws:{caller.arn}",
            token_id=credentials.access_key_id,
            details={
                "access_key_id": caller.access_key_id,
                "principal": caller.arn,
                "role_arn": request.role_arn,
                "session_name": request.role_session_name,
                "new_access_key_id": credentials.access_key_id,
                "duration": duration,
                "mfa": grant.mfa_authenticated,
                "source_identity": source_identity,
                "region": caller.region,
                "tags": sorted(tags),
            },
        )
        return StsResult("AssumeRole", members, credentials)

    def _condition_keys(
        self,
        call: StsCall,
        caller: Caller,
        request: AssumeRoleRequest,
        tags: dict[str, str],
        transitive: tuple[str, ...],
        mfa: bool,
    ) -> dict[str, ContextValue]:
        keys = {**request_condition_keys(call), **caller.condition_keys()}
        keys.update(session_condition_keys(request.role_session_name, tags, transitive, request.source_identity))
        if request.external_id is not None:
            keys["sts:ExternalId"] = request.external_id
        if mfa:
            keys["aws:MultiFactorAuthPresent"] = "true"
            keys["aws:MultiFactorAuthAge"] = "0"
        return keys

    async def _authorize(
        self,
        call: StsCall,
        caller: Caller,
        known: KnownRole,
        request: AssumeRoleRequest,
        keys: dict[str, ContextValue],
    ) -> None:
        actions = ["sts:AssumeRole"]
        if request.tags:
            actions.append("sts:TagSession")
        if request.source_identity is not None:
            actions.append("sts:SetSourceIdentity")
        ring = await self._directory.session_keys(call.tenant.id)
        ring_key = (ring.sealing_key_id, ring.sealing_key)
        decision, context = trust_decisions(known.trust_policy, actions, request.role_arn, caller.principal, keys)
        if not decision.allowed:
            raise deny(ring_key, decision, context, [known.trust_policy], caller.user_id, reason="trust policy")
        if not caller.is_role_session and not caller.identity_policies:
            return  # a long-term key without a key policy acts as the account's administrator (see module doc)
        named = direct_grant(known.trust_policy, caller.arn)
        for action in actions:
            context = RequestContext(action, request.role_arn, caller.principal, keys)
            decision = caller_permissions(caller, context)
            if decision.allowed or (not caller.is_role_session and _admits(named, decision, context)):
                continue
            policies = [*caller.identity_policies, *caller.session_policies]
            raise deny(ring_key, decision, context, policies, caller.user_id, reason="caller permissions")


def _admits(named: PolicyDocument, own: Decision, context: RequestContext) -> bool:
    """A trust policy naming the caller's ARN suffices on its own, unless the caller's policies deny."""
    return own.reason is not DecisionReason.EXPLICIT_DENY and evaluate([named], context).allowed


__all__ = ["AssumeRoleAction", "resolve_role", "session_condition_keys", "source_identity_for"]
