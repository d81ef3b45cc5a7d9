"""Read AWS Query-protocol requests (AWS STS API Reference, "Making Query requests"; botocore ``query`` serializer).

Parameters arrive form-encoded in the body of a POST and/or in the query string (GET requests
and pre-signed URLs); both are read, ``+`` as a space, strictly UTF-8. The SigV4 parameters of a
pre-signed URL (``X-Amz-*``) are not action parameters. A parameter given twice is refused: two
readers could otherwise see different requests in the same bytes.

Lists use the Query protocol's member notation as botocore serialises them:
``Tags.member.1.Key``/``Tags.member.1.Value``, ``PolicyArns.member.1.arn``,
``TransitiveTagKeys.member.1``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from tessera.protocols.awssts.errors import (
    InvalidAction,
    InvalidQueryParameter,
    MissingAction,
    MissingParameter,
    ValidationError,
    ascii_excerpt,
)
from tessera.protocols.awssts.sigv4 import decode_query

API_VERSION = "2011-06-15"
ACTIONS = (
    "AssumeRole",
    "AssumeRoleWithWebIdentity",
    "AssumeRoleWithSAML",
    "GetSessionToken",
    "GetCallerIdentity",
    "GetAccessKeyInfo",
    "DecodeAuthorizationMessage",
)
_MEMBER_INDEX = re.compile(r"^[1-9]\d{0,3}\Z", re.ASCII)
MAX_MEMBERS = 100


@dataclass(frozen=True, slots=True)
class QueryRequest:
    """``Action``, ``Version`` and the action's parameters (everything else that is not ``X-Amz-*``)."""

    action: str
    version: str
    params: Mapping[str, str]

    def get(self, name: str) -> str | None:
        return self.params.get(name)

    def require(self, name: str, member: str) -> str:
        """A required parameter; ``member`` is its lowerCamel name in the validation message, as AWS writes it."""
        value = self.params.get(name)
        if value is None:
            raise ValidationError(
                f"1 validation error detected: Value null at '{member}' failed to satisfy constraint: "
                "Member must not be null"
            )
        return value

    def integer(self, name: str, member: str) -> int | None:
        value = self.params.get(name)
        if value is None:
            return None
        if not re.fullmatch(r"-?\d{1,10}", value, re.ASCII):
            raise ValidationError(
                f"1 validation error detected: Value '{ascii_excerpt(value, 20)}' at '{member}' failed to "
                "satisfy constraint: Member must be a number"
            )
        return int(value)

    def member_list(self, name: str) -> list[str]:
        """``Name.member.N`` values in index order."""
        return [values[""] for values in self._members(name, ("",)).values()]

    def member_structs(self, name: str, fields: tuple[str, ...]) -> list[dict[str, str]]:
        """``Name.member.N.Field`` structures in index order (a missing field is absent from its dict)."""
        return list(self._members(name, fields).values())

    def _members(self, name: str, fields: tuple[str, ...]) -> dict[int, dict[str, str]]:
        prefix = f"{name}.member."
        found: dict[int, dict[str, str]] = {}
        for key, value in self.params.items():
            if not key.startswith(prefix):
                continue
            index, _, field = key[len(prefix) :].partition(".")
            if not _MEMBER_INDEX.match(index) or field not in fields:
                raise ValidationError(f"Unknown parameter {ascii_excerpt(key)}")
            found.setdefault(int(index), {})[field] = value
        if len(found) > MAX_MEMBERS:
            raise ValidationError(f"Too many members in {name}")
        return dict(sorted(found.items()))


def parse_parameters(body: bytes, query: str) -> dict[str, str]:
    """The request's parameters from the query string and the form body, ``X-Amz-*`` left out."""
    params: dict[str, str] = {}
    sources = [decode_query(query)]
    if body:
        sources.append(decode_query(_ascii_body(body)))
    for pairs in sources:
        for raw_name, raw_value in pairs:
            name, value = _utf8(raw_name), _utf8(raw_value)
            if name.startswith("X-Amz-"):
                continue
            if name in params:
                raise InvalidQueryParameter(f"The parameter {ascii_excerpt(name)} is given more than once")
            params[name] = value
    return params


def parse_query_request(params: Mapping[str, str]) -> QueryRequest:
    """Identify the action and version (Query protocol: ``Action`` and ``Version`` parameters)."""
    action = params.get("Action")
    if not action:
        raise MissingAction("Could not find operation for version " + (params.get("Version") or "NO_VERSION_SPECIFIED"))
    version = params.get("Version")
    if version is None:
        raise MissingParameter("The request must contain the parameter Version")
    if version != API_VERSION or action not in ACTIONS:
        raise InvalidAction(
            f"Could not find operation {ascii_excerpt(action, 64)} for version {ascii_excerpt(version, 20)}"
        )
    rest = {k: v for k, v in params.items() if k not in ("Action", "Version")}
    return QueryRequest(action, version, rest)


def _ascii_body(body: bytes) -> str:
    try:
        return body.decode("ascii")
    except UnicodeDecodeError as exc:
        raise InvalidQueryParameter("The request body is not form-urlencoded ASCII") from exc


def _utf8(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidQueryParameter("A parameter is not valid UTF-8") from exc


__all__ = ["ACTIONS", "API_VERSION", "MAX_MEMBERS", "QueryRequest", "parse_parameters", "parse_query_request"]
