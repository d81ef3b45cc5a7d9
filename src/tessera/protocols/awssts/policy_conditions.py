"""IAM condition operators (IAM User Guide, "IAM JSON policy elements: Condition operators").

Semantics, from that page and "Conditions with multiple context keys or values" and
"Single-valued vs. multivalued context keys":

* several operators in a block, and several keys under one operator, are ANDed;
* several values for one key are ORed; for a negated operator (``StringNotEquals``,
  ``NotIpAddress``, ...) they are NORed: the request value must match none of them;
* a key absent from the request makes a positive operator false and a negated one true,
  except ``...IfExists`` (true when absent) and ``Null`` (tests presence itself);
* ``ForAllValues:`` is true when every request value passes (and when the key is absent or
  empty); ``ForAnyValue:`` is true when at least one passes (false when absent). With a set
  operator a negated operator is applied to each request value;
* without a set operator a multivalued request key passes a positive operator when any of its
  values matches, and a negated operator when none does (Tessera's reading; AWS asks for a
  set operator on multivalued keys and does not document this case);
* policy variables are substituted in String*, Arn* and Bool values only.
"""

from __future__ import annotations

import base64
import binascii
import functools
import ipaddress
import math
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from tessera.protocols.awssts.errors import MalformedPolicyDocument
from tessera.protocols.awssts.errors import ascii_excerpt as _ascii
from tessera.protocols.awssts.policy_matching import ContextKeys, matches_glob, substitute

_Compare = Callable[[float, float], bool]
_EPOCH = re.compile(r"^-?\d+(\.\d+)?\Z", re.ASCII)


class SetOperator(StrEnum):
    FOR_ANY_VALUE = "ForAnyValue"
    FOR_ALL_VALUES = "ForAllValues"


class _Family(StrEnum):
    STRING = "String"
    STRING_IGNORE_CASE = "StringIgnoreCase"
    STRING_LIKE = "StringLike"
    NUMERIC = "Numeric"
    DATE = "Date"
    BOOL = "Bool"
    BINARY = "Binary"
    IP = "IpAddress"
    ARN = "Arn"
    NULL = "Null"


@dataclass(frozen=True, slots=True)
class _Base:
    family: _Family
    negated: bool = False
    compare: _Compare = operator.eq


def _comparisons(prefix: str, family: _Family) -> dict[str, _Base]:
    return {
        f"{prefix}Equals": _Base(family),
        f"{prefix}NotEquals": _Base(family, negated=True),
        f"{prefix}LessThan": _Base(family, compare=operator.lt),
        f"{prefix}LessThanEquals": _Base(family, compare=operator.le),
        f"{prefix}GreaterThan": _Base(family, compare=operator.gt),
        f"{prefix}GreaterThanEquals": _Base(family, compare=operator.ge),
    }


_BASES: dict[str, _Base] = {
    "StringEquals": _Base(_Family.STRING),
    "StringNotEquals": _Base(_Family.STRING, negated=True),
    "StringEqualsIgnoreCase": _Base(_Family.STRING_IGNORE_CASE),
    "StringNotEqualsIgnoreCase": _Base(_Family.STRING_IGNORE_CASE, negated=True),
    "StringLike": _Base(_Family.STRING_LIKE),
    "StringNotLike": _Base(_Family.STRING_LIKE, negated=True),
    **_comparisons("Numeric", _Family.NUMERIC),
    **_comparisons("Date", _Family.DATE),
    "Bool": _Base(_Family.BOOL),
    "BinaryEquals": _Base(_Family.BINARY),
    "IpAddress": _Base(_Family.IP),
    "NotIpAddress": _Base(_Family.IP, negated=True),
    "ArnEquals": _Base(_Family.ARN),
    "ArnLike": _Base(_Family.ARN),
    "ArnNotEquals": _Base(_Family.ARN, negated=True),
    "ArnNotLike": _Base(_Family.ARN, negated=True),
    "Null": _Base(_Family.NULL),
}
_BY_LOWER = {name.lower(): name for name in _BASES}
_WITH_VARIABLES = frozenset(
    {_Family.STRING, _Family.STRING_IGNORE_CASE, _Family.STRING_LIKE, _Family.ARN, _Family.BOOL}
)


@dataclass(frozen=True, slots=True)
class ConditionOperator:
    """A parsed operator name such as ``ForAllValues:StringLikeIfExists``."""

    name: str
    set_operator: SetOperator | None = None
    if_exists: bool = False

    @property
    def is_negated(self) -> bool:
        return _BASES[self.name].negated

    def __str__(self) -> str:
        prefix = f"{self.set_operator}:" if self.set_operator else ""
        return f"{prefix}{self.name}{'IfExists' if self.if_exists else ''}"


@dataclass(frozen=True, slots=True)
class ConditionClause:
    """One ``operator: {key: values}`` entry; ``key`` is lower-cased (names are case-insensitive)."""

    operator: ConditionOperator
    key: str
    values: tuple[str, ...]


def parse_operator(text: str) -> ConditionOperator:
    """Parse a condition operator name, qualifiers included (operator names are case-insensitive)."""
    set_operator: SetOperator | None = None
    rest = text
    for candidate in SetOperator:
        if rest.lower().startswith(candidate.lower() + ":"):
            set_operator, rest = candidate, rest[len(candidate) + 1 :]
            break
    if_exists = rest.lower().endswith("ifexists")
    name = _BY_LOWER.get((rest[: -len("IfExists")] if if_exists else rest).lower())
    if name is None or (name == "Null" and (if_exists or set_operator)):
        raise MalformedPolicyDocument(f"Invalid Condition type : {_ascii(text)}")
    return ConditionOperator(name, set_operator, if_exists)


def check_values(op: ConditionOperator, key: str, values: Sequence[str], *, variables: bool) -> None:
    """Refuse policy values the operator cannot read (numbers, dates, addresses, booleans, base64)."""
    family = _BASES[op.name].family
    for value in values:
        if variables and family in _WITH_VARIABLES and "${" in value:
            continue
        if not _is_valid_value(family, value):
            raise MalformedPolicyDocument(f"Invalid value for condition {op} on key {_ascii(key)}: '{_ascii(value)}'")


def _is_valid_value(family: _Family, value: str) -> bool:
    if family is _Family.NUMERIC:
        return _number(value) is not None
    if family is _Family.DATE:
        return _epoch(value) is not None
    if family is _Family.IP:
        return _network(value) is not None
    if family in (_Family.BOOL, _Family.NULL):
        return value.lower() in ("true", "false")
    if family is _Family.BINARY:
        return _binary(value) is not None
    return True


# --- Evaluation -------------------------------------------------------------------------------


def conditions_hold(clauses: Sequence[ConditionClause], keys: ContextKeys, *, variables: bool = True) -> bool:
    """Whether every clause of a Condition block holds for the request context ``keys``."""
    return all(clause_holds(clause, keys, variables=variables) for clause in clauses)


def clause_holds(clause: ConditionClause, keys: ContextKeys, *, variables: bool = True) -> bool:
    """Evaluate one operator/key/values clause (see the module docstring for the rules)."""
    op = clause.operator
    raw = keys.get(clause.key)
    present = [raw] if isinstance(raw, str) else list(raw or ())
    if op.name == "Null":
        is_absent = not present
        return any((value.lower() == "true") == is_absent for value in clause.values)
    if not present:
        if op.if_exists or op.set_operator is SetOperator.FOR_ALL_VALUES:
            return True
        return op.is_negated and op.set_operator is None
    base = _BASES[op.name]

    def matches(value: str) -> bool:
        return any(_value_matches(base, value, wanted, keys, variables) for wanted in clause.values)

    if op.set_operator is SetOperator.FOR_ALL_VALUES:
        return all(matches(value) != base.negated for value in present)
    if op.set_operator is SetOperator.FOR_ANY_VALUE:
        return any(matches(value) != base.negated for value in present)
    return any(matches(value) for value in present) != base.negated


def _value_matches(base: _Base, value: str, wanted: str, keys: ContextKeys, variables: bool) -> bool:
    family = base.family
    if family is _Family.STRING_LIKE:
        return matches_glob(wanted, value, keys, variables=variables)
    if family is _Family.ARN:
        return matches_glob(wanted, value, keys, variables=variables, arn=True)
    if family in _WITH_VARIABLES:
        expected = substitute(wanted, keys, variables=variables)
        if expected is None:
            return False
        if family is _Family.STRING:
            return value == expected
        return value.casefold() == expected.casefold()  # StringEqualsIgnoreCase and Bool
    return _typed_matches(base, value, wanted)


def _typed_matches(base: _Base, value: str, wanted: str) -> bool:
    if base.family is _Family.BINARY:
        actual = _binary(value)
        return actual is not None and actual == _binary(wanted)
    if base.family is _Family.IP:
        return _address_in(value, wanted)
    parse = _number if base.family is _Family.NUMERIC else _epoch
    left, right = parse(value), parse(wanted)
    if left is None or right is None:
        return False
    return base.compare(left, right)


def _address_in(value: str, wanted: str) -> bool:
    network = _network(wanted)
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return False
    return network is not None and address.version == network.version and address in network


# --- Value parsing ------------------------------------------------------------------------------


def _number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


@functools.lru_cache(maxsize=1024)
def _epoch(text: str) -> float | None:
    """ISO 8601 (date or date-time) or epoch seconds, as the Date operators accept."""
    text = text.strip()
    if _EPOCH.match(text):
        return float(text)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


@functools.lru_cache(maxsize=1024)
def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


def _binary(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


__all__ = [
    "ConditionClause",
    "ConditionOperator",
    "SetOperator",
    "check_values",
    "clause_holds",
    "conditions_hold",
    "parse_operator",
]
