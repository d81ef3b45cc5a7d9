"""Evaluate IAM policies for one request (IAM User Guide, "Policy evaluation logic").

Within a set of policies: an explicit ``Deny`` in any applicable statement wins; otherwise an
applicable ``Allow`` allows; otherwise the request is implicitly denied. A statement applies
when its action, resource, principal and condition parts all match the request context:

* ``Action``: case-insensitive, with ``*`` and ``?`` wildcards; ``NotAction`` applies to every
  action it does not list ("IAM JSON policy elements: NotAction");
* ``Resource``: case-sensitive ARN wildcards and policy variables; ``NotResource`` likewise
  inverted; a trust policy has neither and matches any resource;
* ``Principal``: ``"*"``, or an entry whose type equals the caller's and whose identifier is
  ``*``, the caller's ARN or one of its aliases, or ``arn:...:iam::<account>:root`` for any
  principal of that account ("IAM JSON policy elements: Principal"); principals take no
  wildcards; ``NotPrincipal`` inverts;
* ``Condition``: see ``policy_conditions``.

A role session's permissions are the intersection of the role's identity policies and the
session policies passed when the session was made ("Policy evaluation logic", "Session
policies"): ``evaluate_session``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from tessera.protocols.awssts.policy_conditions import conditions_hold
from tessera.protocols.awssts.policy_document import Effect, PolicyDocument, PrincipalSpec, Statement
from tessera.protocols.awssts.policy_matching import ContextValue, matches_glob


@dataclass(frozen=True, slots=True)
class Principal:
    """Who makes the request, as a Principal element would name it.

    ``type`` is ``AWS``, ``Federated``, ``Service`` or ``CanonicalUser``. ``identifier`` is an
    ARN for ``AWS`` principals, the provider ARN or name (``cognito-identity.amazonaws.com``)
    for ``Federated`` and the service principal (``ec2.amazonaws.com``) for ``Service``.
    ``aliases`` are further identifiers the same caller answers to, e.g. the role ARN of a
    role session (``arn:aws:iam::111122223333:role/path/Name`` for
    ``arn:aws:sts::111122223333:assumed-role/Name/session``).
    """

    identifier: str
    type: str = "AWS"
    account: str | None = None
    aliases: tuple[str, ...] = ()

    @property
    def identifiers(self) -> frozenset[str]:
        return frozenset((self.identifier, *self.aliases))


@dataclass(frozen=True)
class RequestContext:
    """The request being authorised. Condition key names are lower-cased on construction."""

    action: str
    resource: str = "*"
    principal: Principal | None = None
    condition_keys: Mapping[str, ContextValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        normalised = {
            key.lower(): value if isinstance(value, str) else tuple(value) for key, value in self.condition_keys.items()
        }
        object.__setattr__(self, "condition_keys", normalised)


class DecisionReason(StrEnum):
    EXPLICIT_DENY = "explicit_deny"
    ALLOWED = "allowed"
    IMPLICIT_DENY = "implicit_deny"


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome, with the deciding statement for the audit log (none for an implicit deny)."""

    allowed: bool
    reason: DecisionReason
    policy_index: int | None = None
    statement_index: int | None = None
    statement_sid: str | None = None
    policy_set: str | None = None


IMPLICIT_DENY = Decision(allowed=False, reason=DecisionReason.IMPLICIT_DENY)


def evaluate(policies: Sequence[PolicyDocument], context: RequestContext) -> Decision:
    """Decide one request against a set of policies (IAM User Guide, "Policy evaluation logic")."""
    allow: Decision | None = None
    for policy_index, policy in enumerate(policies):
        for statement_index, statement in enumerate(policy.statements):
            if not statement_applies(statement, context, variables=policy.supports_variables):
                continue
            if statement.effect is Effect.DENY:
                return _decision(False, DecisionReason.EXPLICIT_DENY, policy_index, statement_index, statement)
            if allow is None:
                allow = _decision(True, DecisionReason.ALLOWED, policy_index, statement_index, statement)
    return allow or IMPLICIT_DENY


def evaluate_session(
    identity_policies: Sequence[PolicyDocument],
    session_policies: Sequence[PolicyDocument],
    context: RequestContext,
) -> Decision:
    """Intersect identity and session policies (IAM User Guide, "Session policies").

    Allowed only if the identity policies allow and, when session policies were passed, they
    allow too; an explicit deny in either set denies. ``policy_set`` names the deciding set.
    """
    identity = replace(evaluate(identity_policies, context), policy_set="identity")
    session = replace(evaluate(session_policies, context), policy_set="session") if session_policies else None
    for decision in (identity, session):
        if decision is not None and decision.reason is DecisionReason.EXPLICIT_DENY:
            return decision
    if not identity.allowed:
        return identity
    if session is not None and not session.allowed:
        return session
    return identity


def statement_applies(statement: Statement, context: RequestContext, *, variables: bool = True) -> bool:
    """Whether action, resource, principal and conditions of ``statement`` all match ``context``."""
    keys = context.condition_keys
    return (
        _matches_action(statement, context.action)
        and _matches_resource(statement, context.resource, keys, variables)
        and _matches_principal(statement, context.principal)
        and conditions_hold(statement.conditions, keys, variables=variables)
    )


def _matches_action(statement: Statement, action: str) -> bool:
    listed = any(matches_glob(pattern, action, {}, variables=False, ignore_case=True) for pattern in statement.actions)
    return listed != statement.negates_action


def _matches_resource(statement: Statement, resource: str, keys: Mapping[str, ContextValue], variables: bool) -> bool:
    if statement.resources is None:
        return True
    listed = any(
        pattern == "*" or matches_glob(pattern, resource, keys, variables=variables, arn=True)
        for pattern in statement.resources
    )
    return listed != statement.negates_resource


def _matches_principal(statement: Statement, principal: Principal | None) -> bool:
    if statement.principal is None:
        return True
    return principal_matches(statement.principal, principal) != statement.negates_principal


def principal_matches(spec: PrincipalSpec, principal: Principal | None) -> bool:
    """Whether ``spec`` names ``principal`` (IAM User Guide, "IAM JSON policy elements: Principal")."""
    if spec.is_anyone:
        return True
    if principal is None:
        return False
    identifiers = principal.identifiers
    for principal_type, value in spec.entries:
        if principal_type != principal.type:
            continue
        if value == "*" or value in identifiers or _is_account_root_of(value, principal):
            return True
    return False


def _is_account_root_of(value: str, principal: Principal) -> bool:
    parts = value.split(":")
    return (
        principal.account is not None
        and len(parts) == 6
        and parts[2] == "iam"
        and parts[4] == principal.account
        and parts[5] == "root"
    )


def _decision(
    allowed: bool, reason: DecisionReason, policy_index: int, statement_index: int, statement: Statement
) -> Decision:
    return Decision(allowed, reason, policy_index, statement_index, statement.sid)


__all__ = [
    "IMPLICIT_DENY",
    "Decision",
    "DecisionReason",
    "Principal",
    "RequestContext",
    "evaluate",
    "evaluate_session",
    "principal_matches",
    "statement_applies",
]
