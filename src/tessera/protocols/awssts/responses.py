"""STS response models: an ordered tree of XML members, rendered by ``web.render`` (one renderer per protocol).

Member names and order follow botocore's STS output shapes; timestamps are ISO 8601 UTC, which
botocore parses into ``datetime`` objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from tessera.secret import Secret

Member = tuple[str, "str | int | Sequence[Member]"]


def iso8601(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class Credentials:
    access_key_id: str
    secret_access_key: Secret[str]
    session_token: Secret[str]
    expiration: float

    def members(self) -> Member:
        return (
            "Credentials",
            [
                ("AccessKeyId", self.access_key_id),
                ("SecretAccessKey", self.secret_access_key.reveal()),
                ("SessionToken", self.session_token.reveal()),
                ("Expiration", iso8601(self.expiration)),
            ],
        )


@dataclass(frozen=True, slots=True)
class StsResult:
    """``<Action>Response/<Action>Result`` with ``members``; ``credentials`` when the action issued some."""

    action: str
    members: Sequence[Member]
    credentials: Credentials | None = None


def assumed_role_user(assumed_role_id: str, arn: str) -> Member:
    return ("AssumedRoleUser", [("AssumedRoleId", assumed_role_id), ("Arn", arn)])


__all__ = ["Credentials", "Member", "StsResult", "assumed_role_user", "iso8601"]
