"""Wildcard matching and policy-variable substitution in IAM policy strings."""

from __future__ import annotations

import pytest

from tessera.protocols.awssts import has_variables, matches_glob, substitute

pytestmark = pytest.mark.unit

# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
KEYS = {"aws:username": "alice", "aws:principaltag/team": "blue", "aws:tagkeys": ("a", "b")}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "plain"),
        ("home/${aws:username}/", "home/alice/"),
        ("${AWS:UserName}", "alice"),
        ("${ aws:username }", "alice"),
        ("${aws:PrincipalTag/team}-${aws:username}", "blue-alice"),
        ("${aws:PrincipalTag/missing, 'none'}", "none"),
        ("${aws:PrincipalTag/missing,'a''b'}", "a'b"),
        ("${aws:PrincipalTag/missing, ''}", ""),
        ("${aws:PrincipalTag/missing}", None),
        ("${aws:tagkeys}", None),
        ("${aws:tagkeys, 'multi'}", "multi"),
        ("${*}${?}${$}", "*?$"),
        ("${unclosed", "${unclosed"),
        ("${}", "${}"),
        ("*?", "*?"),
    ],
)
def test_substitute(text: str, expected: str | None) -> None:
    assert substitute(text, KEYS) == expected


def test_substitution_is_off_without_variables() -> None:
    assert substitute("home/${aws:username}", KEYS, variables=False) == "home/${aws:username}"
    assert has_variables("a${*}")
    assert has_variables("${aws:username}")
    assert not has_variables("a*b")


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html
# ("If the * wildcard is the last character of a resource ARN segment, it can expand to match beyond the
#  colon boundaries")
@pytest.mark.parametrize(
    ("pattern", "value", "arn", "expected"),
    [
        ("*", "", False, True),
        ("*", "anything:at/all", True, True),
        ("a*c", "abbbc", False, True),
        ("a*c", "abbbd", False, False),
        ("a?c", "a:c", False, True),
        ("arn:aws:iam::?2:user/x", "arn:aws:iam:::2:user/x", True, False),
        ("arn:aws:s3:*", "arn:aws:s3:::bucket/key", True, True),
        ("arn:aws:*:us-east-1:1:x", "arn:aws:sqs:us-east-1:1:x", True, True),
        ("arn:aws:s*s:us-east-1:1:x", "arn:aws:sqs:us-east-1:1:x", True, True),
        ("arn:aws:s*s:us-east-1:1:x", "arn:aws:s:s:us-east-1:1:x", True, False),
        ("arn:aws:s3:::b/*/k", "arn:aws:s3:::b/a:b/k", True, True),
        ("arn:aws:s3:::b/?", "arn:aws:s3:::b/:", True, True),
        ("Arn:aws:s3:::B", "arn:aws:s3:::b", True, False),
    ],
)
def test_wildcards(pattern: str, value: str, arn: bool, expected: bool) -> None:
    assert matches_glob(pattern, value, {}, arn=arn) is expected


def test_case_insensitive_matching_and_literal_substitutions() -> None:
    assert matches_glob("S3:Get*", "s3:getobject", {}, ignore_case=True)
    assert not matches_glob("S3:Get*", "s3:getobject", {})
    assert matches_glob("${aws:username}*", "alice-x", KEYS)
    assert not matches_glob("${aws:missing}*", "alice-x", KEYS)
    assert matches_glob("${aws:username}", "a*", {"aws:username": "a*"})
    assert not matches_glob("${aws:username}", "ab", {"aws:username": "a*"})


def test_pathological_patterns_do_not_backtrack() -> None:
    # A backtracking matcher needs about len(value) ** 12 steps here; the NFA needs len(value) * 25.
    pattern = "a*" * 12 + "b"
    assert not matches_glob(pattern, "a" * 5000, {})
    assert matches_glob(pattern, "a" * 5000 + "b", {})
    assert not matches_glob("arn:" + "*a" * 12 + ":x", "arn:" + "a" * 3000, {}, arn=True)
