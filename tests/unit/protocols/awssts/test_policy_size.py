"""Session policy size limits: the 2,048-character plaintext rule and the packed-size estimate."""

from __future__ import annotations

import json
import random
import string

import pytest

from tessera.protocols.awssts import (
    PACKED_POLICY_BUDGET_BYTES,
    PackedPolicyTooLarge,
    ValidationError,
    check_packed_policy_size,
    check_session_policy_text,
    packed_policy_size,
)

pytestmark = pytest.mark.unit

# https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html (Policy, PackedPolicySize)
POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
)


@pytest.mark.parametrize("text", [POLICY, "x" * 2048, "\t\n\r ~\u00ff"])
def test_session_policy_text_within_limits(text: str) -> None:
    check_session_policy_text(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x" * 2049, "length less than or equal to 2048"),
        ("", "length greater than or equal to 1"),
        ("{\u0100}", "regular expression pattern"),
        ("{\x00}", "regular expression pattern"),
    ],
)
def test_session_policy_text_beyond_limits(text: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as caught:
        check_session_policy_text(text)
    assert caught.value.code == "ValidationError"
    assert "Value at 'policy'" in caught.value.description


def test_packed_size_is_deterministic_and_order_free() -> None:
    tags = {"team": "blue", "project": "tessera", "cost-center": "42"}
    first = packed_policy_size([POLICY], tags=tags, policy_arns=["arn:aws:iam::aws:policy/ReadOnlyAccess"])
    reordered = dict(reversed(list(tags.items())))
    assert first == packed_policy_size([POLICY], tags=reordered, policy_arns=["arn:aws:iam::aws:policy/ReadOnlyAccess"])
    assert 0 < first < 20


def test_packed_size_ignores_policy_whitespace() -> None:
    pretty = json.dumps(json.loads(POLICY), indent=4)
    assert packed_policy_size([pretty]) == packed_policy_size([POLICY])


def test_packed_size_grows_with_tags_and_refuses_past_the_limit() -> None:
    rng = random.Random(7)
    alphabet = string.ascii_letters + string.digits

    def noise(n: int) -> str:
        return "".join(rng.choice(alphabet) for _ in range(n))

    few = {noise(10): noise(20) for _ in range(3)}
    many = {noise(128): noise(256) for _ in range(50)}
    assert packed_policy_size([], tags=few) < packed_policy_size([], tags=many)
    assert check_packed_policy_size([POLICY], tags=few) <= 100
    with pytest.raises(PackedPolicyTooLarge, match=r"\d+% of the allowed limit"):
        check_packed_policy_size([POLICY], tags=many, transitive_tag_keys=list(many))


def test_budget_bounds_a_maximal_plaintext_policy() -> None:
    statements = [
        {"Effect": "Allow", "Action": f"s3:Get{i}", "Resource": f"arn:aws:s3:::bucket-{i}/*"} for i in range(60)
    ]
    text = json.dumps({"Version": "2012-10-17", "Statement": statements}, separators=(",", ":"))[:2048]
    assert PACKED_POLICY_BUDGET_BYTES == 2048
    assert packed_policy_size([text]) <= 100
