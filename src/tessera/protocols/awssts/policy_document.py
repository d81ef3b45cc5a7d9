"""Parse and validate IAM JSON policy documents (IAM User Guide, "IAM JSON policy element reference").

``parse_policy`` turns JSON text into an immutable ``PolicyDocument`` or raises
``MalformedPolicyDocument`` with an ASCII description of the first problem found. What is
checked follows the element reference and the grammar page ("Grammar of the IAM JSON policy
language"): the known top-level and statement elements only, ``Version`` one of the two
published dates (absent means ``2008-10-17``), ``Effect`` exactly ``Allow`` or ``Deny``,
exactly one of ``Action``/``NotAction``, ``Resource``/``NotResource`` and
``Principal``/``NotPrincipal`` where the policy kind requires it (and none where it forbids
it), actions prefixed by a service, resources in ARN form or ``*``, known condition operators
with values they can read. Duplicate JSON keys are refused: two parsers could otherwise read
different policies from the same text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tessera.protocols.awssts.errors import MalformedPolicyDocument
from tessera.protocols.awssts.errors import ascii_excerpt as _ascii
from tessera.protocols.awssts.policy_conditions import ConditionClause, check_values, parse_operator

VERSION_2012 = "2012-10-17"
VERSION_2008 = "2008-10-17"
PRINCIPAL_TYPES = ("AWS", "Federated", "Service", "CanonicalUser")

_DOCUMENT_KEYS = frozenset({"Version", "Id", "Statement"})
_STATEMENT_KEYS = frozenset(
    {
        "Sid",
        "Effect",
        "Principal",
        "NotPrincipal",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Condition",
    }
)
_ACTION = re.compile(r"^[A-Za-z0-9-]+:\S+\Z")
_ACCOUNT_ID = re.compile(r"^\d{12}\Z", re.ASCII)
_IAM_SID = re.compile(r"^[A-Za-z0-9]*\Z")


class PolicyKind(StrEnum):
    """Which policy type a document is, deciding which elements it must and must not carry."""

    IDENTITY = "identity"  # identity-based and session policies: no Principal, Resource required
    TRUST = "trust"  # a role trust policy: Principal required, no Resource
    RESOURCE = "resource"  # other resource-based policies: Principal and Resource required


class Effect(StrEnum):
    ALLOW = "Allow"
    DENY = "Deny"


@dataclass(frozen=True, slots=True)
class PrincipalSpec:
    """A Principal/NotPrincipal value: ``"*"`` or ``(type, identifier)`` pairs.

    An AWS account id is stored as ``arn:aws:iam::<id>:root`` (the two are equivalent).
    """

    is_anyone: bool
    entries: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Statement:
    effect: Effect
    actions: tuple[str, ...]
    negates_action: bool = False
    resources: tuple[str, ...] | None = None
    negates_resource: bool = False
    principal: PrincipalSpec | None = None
    negates_principal: bool = False
    conditions: tuple[ConditionClause, ...] = ()
    sid: str | None = None


@dataclass(frozen=True, slots=True)
class PolicyDocument:
    version: str
    statements: tuple[Statement, ...]
    id: str | None = None

    @property
    def supports_variables(self) -> bool:
        """Policy variables exist only in the 2012-10-17 language (element reference, "Version")."""
        return self.version == VERSION_2012


def parse_policy(document: str | Mapping[str, Any], *, kind: PolicyKind = PolicyKind.IDENTITY) -> PolicyDocument:
    """Parse and validate a policy document (IAM User Guide, "IAM JSON policy element reference")."""
    data = _load(document) if isinstance(document, str) else document
    if not isinstance(data, Mapping):
        raise MalformedPolicyDocument("Syntax errors in policy.", detail="top level is not an object")
    _refuse_unknown(data, _DOCUMENT_KEYS, "the policy")
    version = data.get("Version", VERSION_2008)
    if version not in (VERSION_2012, VERSION_2008):
        raise MalformedPolicyDocument(f"Version must be {VERSION_2012} or {VERSION_2008}")
    policy_id = data.get("Id")
    if policy_id is not None and not isinstance(policy_id, str):
        raise MalformedPolicyDocument("Id must be a string")
    raw = data.get("Statement")
    if isinstance(raw, Mapping):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise MalformedPolicyDocument("Statement must be an object or a non-empty list of objects")
    variables = version == VERSION_2012
    statements = tuple(_parse_statement(item, kind, variables) for item in raw)
    if kind is not PolicyKind.RESOURCE:
        _refuse_repeated_sids(statements)
    return PolicyDocument(version=version, statements=statements, id=policy_id)


def minify_policy(text: str) -> str:
    """The policy JSON without insignificant whitespace (what session tokens and size checks carry)."""
    return json.dumps(_load(text), separators=(",", ":"), ensure_ascii=False)


def _load(text: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError) as exc:
        raise MalformedPolicyDocument("Syntax errors in policy.", detail=str(exc)[:200]) from exc


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise MalformedPolicyDocument(f"Policy document repeats the key '{_ascii(key)}'")
        result[key] = value
    return result


def _refuse_unknown(data: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    for key in data:
        if key not in allowed:
            raise MalformedPolicyDocument(f"Unknown element '{_ascii(str(key))}' in {where}")


def _refuse_repeated_sids(statements: Sequence[Statement]) -> None:
    seen: set[str] = set()
    for statement in statements:
        if statement.sid:
            if statement.sid in seen:
                raise MalformedPolicyDocument("Statement IDs (SID) in a single policy must be unique")
            seen.add(statement.sid)


def _parse_statement(item: Any, kind: PolicyKind, variables: bool) -> Statement:
    if not isinstance(item, Mapping):
        raise MalformedPolicyDocument("Each statement must be an object")
    _refuse_unknown(item, _STATEMENT_KEYS, "a statement")
    sid = _parse_sid(item.get("Sid"), kind)
    effect = item.get("Effect")
    if effect not in (Effect.ALLOW.value, Effect.DENY.value):
        raise MalformedPolicyDocument('Effect must be "Allow" or "Deny"')
    action_key, actions = _pair(item, "Action", "NotAction", required=False)
    if actions is None:
        raise MalformedPolicyDocument("Policy statement must contain actions.")
    for action in actions:
        if action != "*" and not _ACTION.match(action):
            raise MalformedPolicyDocument("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")
    resource_key, resources = _pair(item, "Resource", "NotResource", required=kind is not PolicyKind.TRUST)
    if kind is PolicyKind.TRUST and resources is not None:
        raise MalformedPolicyDocument(f"Has prohibited field {resource_key}")
    for resource in resources or ():
        if resource != "*" and not resource.startswith("arn:"):
            raise MalformedPolicyDocument(f'Resource {_ascii(resource)} must be in ARN format or "*".')
    principal_key, principal = _parse_principal(item, kind)
    return Statement(
        effect=Effect(effect),
        actions=actions,
        negates_action=action_key == "NotAction",
        resources=resources,
        negates_resource=resource_key == "NotResource",
        principal=principal,
        negates_principal=principal_key == "NotPrincipal",
        conditions=_parse_conditions(item.get("Condition"), variables),
        sid=sid,
    )


def _parse_sid(sid: Any, kind: PolicyKind) -> str | None:
    if sid is None:
        return None
    if not isinstance(sid, str):
        raise MalformedPolicyDocument("Sid must be a string")
    if kind is not PolicyKind.RESOURCE and not _IAM_SID.match(sid):
        raise MalformedPolicyDocument("Statement IDs (SID) must be alpha-numeric")
    return sid


def _pair(item: Mapping[str, Any], key: str, negated: str, *, required: bool) -> tuple[str, tuple[str, ...] | None]:
    """Read whichever of ``key``/``negated`` is present: exactly one if required, at most one otherwise."""
    present = [name for name in (key, negated) if name in item]
    if len(present) == 2:
        raise MalformedPolicyDocument(f"A statement cannot have both {key} and {negated}")
    if not present:
        if required:
            raise MalformedPolicyDocument(f"Missing required field {key}")
        return key, None
    return present[0], _strings(item[present[0]], present[0])


def _strings(value: Any, element: str) -> tuple[str, ...]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) and v for v in values):
        raise MalformedPolicyDocument(f"{element} must be a non-empty string or a non-empty list of strings")
    return tuple(values)


def _parse_principal(item: Mapping[str, Any], kind: PolicyKind) -> tuple[str, PrincipalSpec | None]:
    present = [name for name in ("Principal", "NotPrincipal") if name in item]
    if kind is PolicyKind.IDENTITY:
        if present:
            raise MalformedPolicyDocument("Policy document should not specify a principal.")
        return "Principal", None
    if len(present) != 1:
        raise MalformedPolicyDocument(
            "A statement needs exactly one of Principal and NotPrincipal"
            if present
            else "Missing required field Principal"
        )
    key = present[0]
    value = item[key]
    if value == "*":
        return key, PrincipalSpec(is_anyone=True)
    if not isinstance(value, Mapping) or not value:
        raise MalformedPolicyDocument(f'{key} must be "*" or an object of principal types')
    entries: list[tuple[str, str]] = []
    for principal_type, identifiers in value.items():
        if principal_type not in PRINCIPAL_TYPES:
            raise MalformedPolicyDocument(f"Invalid principal type in policy: '{_ascii(str(principal_type))}'")
        entries.extend((principal_type, _principal_id(principal_type, v)) for v in _strings(identifiers, key))
    return key, PrincipalSpec(is_anyone=False, entries=tuple(entries))


def _principal_id(principal_type: str, value: str) -> str:
    """Principals take no partial wildcards ("IAM JSON policy elements: Principal"); ids become root ARNs."""
    if principal_type != "AWS" or value == "*":
        return value
    if value.startswith("arn:") and "*" not in value and "?" not in value:
        return value
    if _ACCOUNT_ID.match(value):
        return f"arn:aws:iam::{value}:root"
    raise MalformedPolicyDocument(f'Invalid principal in policy: "AWS":"{_ascii(value)}"')


def _parse_conditions(block: Any, variables: bool) -> tuple[ConditionClause, ...]:
    if block is None:
        return ()
    if not isinstance(block, Mapping):
        raise MalformedPolicyDocument("Condition must be an object of operators")
    clauses: list[ConditionClause] = []
    for operator_name, entries in block.items():
        op = parse_operator(str(operator_name))
        if not isinstance(entries, Mapping) or not entries:
            raise MalformedPolicyDocument(f"Condition {op} must map condition keys to values")
        for key, raw_values in entries.items():
            if not isinstance(key, str) or not key:
                raise MalformedPolicyDocument(f"Condition {op} has an empty condition key")
            values = _condition_values(raw_values, op_name=str(op), key=key)
            check_values(op, key, values, variables=variables)
            clauses.append(ConditionClause(op, key.lower(), values))
    return tuple(clauses)


def _condition_values(raw: Any, *, op_name: str, key: str) -> tuple[str, ...]:
    values = raw if isinstance(raw, list) else [raw]
    if not values:
        raise MalformedPolicyDocument(f"Condition {op_name} on key {_ascii(key)} has no values")
    result = []
    for value in values:
        if isinstance(value, bool):
            result.append("true" if value else "false")
        elif isinstance(value, str | int | float):
            result.append(str(value))
        else:
            raise MalformedPolicyDocument(
                f"Condition {op_name} on key {_ascii(key)} must have string, number or boolean values"
            )
    return tuple(result)


__all__ = [
    "PRINCIPAL_TYPES",
    "VERSION_2008",
    "VERSION_2012",
    "Effect",
    "PolicyDocument",
    "PolicyKind",
    "PrincipalSpec",
    "Statement",
    "minify_policy",
    "parse_policy",
]
