"""Policy decisions at the action level: trust policies for AssumeRole*, permissions for everything else.

A denial is ``AccessDenied`` worded as AWS words it ("User: <arn> is not authorized to perform:
<action> on resource: <arn>") followed by an encoded authorization failure message that
DecodeAuthorizationMessage opens for callers allowed ``sts:DecodeAuthorizationMessage``.

Which policies decide (IAM User Guide, "Policy evaluation logic", single account):

* AssumeRole*: the role's trust policy must allow the action (plus ``sts:TagSession`` when
  session tags are passed and ``sts:SetSourceIdentity`` when a source identity is set). For
  AssumeRole the caller's own policies count too (``assume_role``'s module docstring): an
  explicit Deny there refuses; a role session must be allowed the action by its own permissions
  (role chaining); a key with a key policy must be, unless the trust policy names its ARN
  (``direct_grant``); a key without a key policy relies on the trust policy alone.
* Other decisions (``/sts/verify``, DecodeAuthorizationMessage): the caller's identity policies
  (key policy, or role permissions), intersected with the session policies for role sessions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from tessera.protocols.awssts.authorization_message import describe_decision, encode_message
from tessera.protocols.awssts.callers import Caller
from tessera.protocols.awssts.context import StsCall
from tessera.protocols.awssts.errors import AccessDenied
from tessera.protocols.awssts.policy_document import Effect, PolicyDocument
from tessera.protocols.awssts.policy_evaluation import Decision, Principal, RequestContext, evaluate, evaluate_session
from tessera.protocols.awssts.policy_matching import ContextValue
from tessera.protocols.awssts.responses import iso8601

ENCODED_PREFIX = "Encoded authorization failure message: "


def request_condition_keys(call: StsCall) -> dict[str, ContextValue]:
    """The keys every request has (IAM "AWS global condition context keys")."""
    keys: dict[str, ContextValue] = {
        "aws:CurrentTime": iso8601(call.now),
        "aws:EpochTime": str(int(call.now)),
        "aws:SecureTransport": "true" if call.secure else "false",
    }
    if call.source_ip:
        keys["aws:SourceIp"] = call.source_ip
    return keys


def caller_permissions(caller: Caller, context: RequestContext) -> Decision:
    """The caller's own permissions for ``context`` (identity policies ∩ session policies)."""
    if caller.session_policies:
        return evaluate_session(caller.identity_policies, caller.session_policies, context)
    return evaluate(caller.identity_policies, context)


def deny(
    ring_key: tuple[str, bytes],
    decision: Decision,
    context: RequestContext,
    policies: Sequence[PolicyDocument],
    principal_id: str,
    *,
    who: str = "User",
    reason: str = "",
) -> AccessDenied:
    """``AccessDenied`` with AWS's wording and an encoded message for DecodeAuthorizationMessage."""
    details = describe_decision(decision, context, policies, principal_id)
    encoded = encode_message(details, *ring_key)
    principal = context.principal.identifier if context.principal else "anonymous"
    because = " with an explicit deny" if decision.reason.value == "explicit_deny" else ""
    message = (
        f"{who}: {principal} is not authorized to perform: {context.action} on resource: {context.resource}"
        f"{because}. {ENCODED_PREFIX}{encoded}"
    )
    return AccessDenied(message, reason="AccessDenied", detail=reason or decision.reason.value)


def direct_grant(trust_policy: PolicyDocument, arn: str) -> PolicyDocument:
    """The trust policy's Allow statements whose ``Principal`` names ``arn`` itself (not its account, not ``*``)."""
    statements = tuple(
        statement
        for statement in trust_policy.statements
        if statement.effect is Effect.ALLOW
        and statement.principal is not None
        and not statement.negates_principal
        and ("AWS", arn) in statement.principal.entries
    )
    return replace(trust_policy, statements=statements)


def trust_context(action: str, role_arn: str, principal: Principal, keys: Mapping[str, ContextValue]) -> RequestContext:
    return RequestContext(action=action, resource=role_arn, principal=principal, condition_keys=keys)


def trust_decisions(
    trust_policy: PolicyDocument,
    actions: Sequence[str],
    role_arn: str,
    principal: Principal,
    keys: Mapping[str, ContextValue],
) -> tuple[Decision, RequestContext]:
    """The first denial among ``actions`` under the trust policy, else the allowing decision of the first."""
    first: tuple[Decision, RequestContext] | None = None
    for action in actions:
        context = trust_context(action, role_arn, principal, keys)
        decision = evaluate([trust_policy], context)
        if not decision.allowed:
            return decision, context
        first = first or (decision, context)
    assert first is not None
    return first


__all__ = [
    "ENCODED_PREFIX",
    "caller_permissions",
    "deny",
    "direct_grant",
    "request_condition_keys",
    "trust_context",
    "trust_decisions",
]
