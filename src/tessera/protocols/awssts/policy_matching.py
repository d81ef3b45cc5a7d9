"""Wildcards and variables in IAM policy strings (IAM User Guide, "IAM policy elements: Variables and tags").

A policy string is read as a template of three kinds of pieces:

* plain text, in which ``*`` and ``?`` are wildcards wherever the element allows them;
* ``${key}`` or ``${key, 'default'}``: replaced by the single-valued request context key
  ``key`` (names are case-insensitive); a key that is absent or multivalued falls back to the
  default, and without one the string cannot match anything ("Policy variables with no value");
  the value substituted is always literal text, never a wildcard;
* ``${*}``, ``${?}`` and ``${$}``: a literal ``*``, ``?`` or ``$``.

Variables exist only in policies with ``"Version": "2012-10-17"``; in ``2008-10-17`` policies
the whole string is plain text ("IAM JSON policy elements: Version").

ARN patterns (the Resource element and the Arn* condition operators) follow "IAM JSON policy
elements: Resource": a wildcard stays inside its colon-separated segment unless it is the
segment's last character, and in the sixth (resource) segment it may match anything.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

ContextValue = str | Sequence[str]
ContextKeys = Mapping[str, ContextValue]

_VARIABLE = re.compile(r"^\s*([^\s,'][^,']*?)\s*(?:,\s*'((?:[^']|'')*)'\s*)?\Z")
_ESCAPES = {"*": "*", "?": "?", "$": "$"}


@dataclass(frozen=True, slots=True)
class _Text:
    """Policy text; ``*`` and ``?`` in it are wildcards where the element allows them."""

    text: str


@dataclass(frozen=True, slots=True)
class _Literal:
    """Text that is never a wildcard: an escape such as ``${*}`` or a substituted value."""

    text: str


@dataclass(frozen=True, slots=True)
class _Variable:
    key: str
    default: str | None


_Piece = _Text | _Literal | _Variable


def has_variables(text: str) -> bool:
    """Whether ``text`` holds a policy variable or escape."""
    return any(not isinstance(piece, _Text) for piece in _parse_template(text))


@functools.lru_cache(maxsize=4096)
def _parse_template(text: str) -> tuple[_Piece, ...]:
    pieces: list[_Piece] = []
    position = 0
    while (start := text.find("${", position)) != -1:
        end = text.find("}", start + 2)
        if end == -1:
            break
        if start > position:
            pieces.append(_Text(text[position:start]))
        pieces.append(_parse_variable(text[start + 2 : end], text[start : end + 1]))
        position = end + 1
    if position < len(text):
        pieces.append(_Text(text[position:]))
    return tuple(pieces)


def _parse_variable(inner: str, whole: str) -> _Piece:
    if inner in _ESCAPES:
        return _Literal(_ESCAPES[inner])
    match = _VARIABLE.match(inner)
    if match is None:
        return _Text(whole)
    default = match.group(2)
    return _Variable(match.group(1).lower(), None if default is None else default.replace("''", "'"))


def _resolve(text: str, keys: ContextKeys, *, variables: bool) -> tuple[_Text | _Literal, ...] | None:
    """Substitute the variables in ``text``; ``None`` when one has no value and no default."""
    if not variables:
        return (_Text(text),)
    resolved: list[_Text | _Literal] = []
    for piece in _parse_template(text):
        if isinstance(piece, _Variable):
            value = keys.get(piece.key)
            if not isinstance(value, str):
                value = piece.default
            if value is None:
                return None
            resolved.append(_Literal(value))
        else:
            resolved.append(piece)
    return tuple(resolved)


def substitute(text: str, keys: ContextKeys, *, variables: bool = True) -> str | None:
    """``text`` with its variables replaced, wildcards kept as plain characters; ``None`` if unresolvable."""
    pieces = _resolve(text, keys, variables=variables)
    return None if pieces is None else "".join(piece.text for piece in pieces)


def matches_glob(
    pattern: str,
    value: str,
    keys: ContextKeys,
    *,
    variables: bool = True,
    ignore_case: bool = False,
    arn: bool = False,
) -> bool:
    """Match ``value`` against ``pattern`` with ``*``/``?`` wildcards and policy variables.

    Runs in O(len(pattern) * len(value)) whatever the pattern: session policies come from
    callers, so a backtracking regex would let one of them spend the server's CPU.
    """
    pieces = _resolve(pattern, keys, variables=variables)
    if pieces is None:
        return False
    tokens = _tokens(pieces, ignore_case, arn)
    return _run(tokens, value.casefold() if ignore_case else value)


# A token is (kind, character, bounded): a literal character, ``?`` (one character) or ``*``
# (any run); a bounded wildcard does not match ``:``.
_LITERAL, _ONE, _ANY = 0, 1, 2
_Token = tuple[int, str, bool]


@functools.lru_cache(maxsize=4096)
def _tokens(pieces: tuple[_Text | _Literal, ...], ignore_case: bool, arn: bool) -> tuple[_Token, ...]:
    chars = [
        (ch, isinstance(piece, _Text))
        for piece in pieces
        for ch in (piece.text.casefold() if ignore_case else piece.text)
    ]
    tokens: list[_Token] = []
    colons = 0
    for index, (ch, wild) in enumerate(chars):
        in_resource = colons >= 5
        colons += ch == ":"
        if not wild or ch not in "*?":
            tokens.append((_LITERAL, ch, False))
        elif ch == "?":
            tokens.append((_ONE, ch, arn and not in_resource))
        else:
            last_in_segment = index + 1 == len(chars) or chars[index + 1][0] == ":"
            tokens.append((_ANY, ch, arn and not (in_resource or last_in_segment)))
    return tuple(tokens)


def _run(tokens: tuple[_Token, ...], value: str) -> bool:
    """Simulate the pattern as an NFA over ``value`` (no backtracking)."""
    states = _skip_stars(tokens, {0})
    for ch in value:
        following: set[int] = set()
        for state in states:
            if state == len(tokens):
                continue
            kind, literal, bounded = tokens[state]
            if kind == _LITERAL:
                if literal == ch:
                    following.add(state + 1)
            elif not (bounded and ch == ":"):
                following.add(state + 1 if kind == _ONE else state)
        if not following:
            return False
        states = _skip_stars(tokens, following)
    return len(tokens) in states


def _skip_stars(tokens: tuple[_Token, ...], states: set[int]) -> set[int]:
    """Add the states reached by letting ``*`` tokens match nothing."""
    closed = set(states)
    for state in states:
        while state < len(tokens) and tokens[state][0] == _ANY:
            state += 1
            closed.add(state)
    return closed


__all__ = ["ContextKeys", "ContextValue", "has_variables", "matches_glob", "substitute"]
