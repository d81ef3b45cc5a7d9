"""Size limits of session policies and session tags (AWS STS API Reference, AssumeRole ``Policy``).

Two limits apply, as the API reference describes them:

* the plaintext inline session policy is 1 to 2,048 characters from tab, line feed, carriage
  return and U+0020 to U+00FF (the ``sessionPolicyDocumentType`` constraint of the STS model);
  AWS reports a violation as ``ValidationError``;
* "an AWS conversion compresses the passed inline session policy, managed policy ARNs, and
  session tags into a packed binary format that has a separate limit"; the response's
  ``PackedPolicySize`` says "by percentage how close the policies and tags for your request
  are to the upper size limit", and going over is ``PackedPolicyTooLarge``.

AWS does not publish its packing, so ``packed_policy_size`` is Tessera's own, deterministic
estimate: the minified policies, the policy ARNs, the tags and the transitive tag keys are
serialised as compact JSON with sorted keys, compressed with zlib at level 9, and the
compressed length is expressed as a percentage (rounded up) of ``PACKED_POLICY_BUDGET_BYTES``.
The same data travels, compressed, inside Tessera's session token, so the budget also bounds
the token's size. Expect percentages that differ from AWS's for the same request.
"""

from __future__ import annotations

import json
import math
import re
import zlib
from collections.abc import Mapping, Sequence

from tessera.protocols.awssts.errors import MalformedPolicyDocument, PackedPolicyTooLarge, ValidationError
from tessera.protocols.awssts.policy_document import minify_policy

SESSION_POLICY_MAX_CHARS = 2048
PACKED_POLICY_BUDGET_BYTES = 2048

_POLICY_CHARS = re.compile(r"^[\t\n\r\u0020-\u00ff]+\Z")


def check_session_policy_text(text: str, *, member: str = "policy") -> None:
    """Apply the model constraint on an inline session policy (STS model, ``sessionPolicyDocumentType``)."""
    prefix = f"1 validation error detected: Value at '{member}' failed to satisfy constraint: Member must"
    if len(text) > SESSION_POLICY_MAX_CHARS:
        raise ValidationError(f"{prefix} have length less than or equal to {SESSION_POLICY_MAX_CHARS}")
    if not text:
        raise ValidationError(f"{prefix} have length greater than or equal to 1")
    if not _POLICY_CHARS.match(text):
        raise ValidationError(f"{prefix} satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u00FF]+")


def packed_policy_size(
    policies: Sequence[str],
    *,
    policy_arns: Sequence[str] = (),
    tags: Mapping[str, str] | None = None,
    transitive_tag_keys: Sequence[str] = (),
) -> int:
    """Estimate ``PackedPolicySize`` as a percentage (deterministic; see the module docstring)."""
    payload = {
        "a": list(policy_arns),
        "p": [_minified(policy) for policy in policies],
        "t": sorted((tags or {}).items()),
        "x": sorted(transitive_tag_keys),
    }
    packed = json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode("utf-8")
    return math.ceil(len(zlib.compress(packed, 9)) * 100 / PACKED_POLICY_BUDGET_BYTES)


def check_packed_policy_size(
    policies: Sequence[str],
    *,
    policy_arns: Sequence[str] = (),
    tags: Mapping[str, str] | None = None,
    transitive_tag_keys: Sequence[str] = (),
) -> int:
    """Return the packed size percentage, or raise ``PackedPolicyTooLarge`` above 100."""
    percent = packed_policy_size(policies, policy_arns=policy_arns, tags=tags, transitive_tag_keys=transitive_tag_keys)
    if percent > 100:
        raise PackedPolicyTooLarge(
            f"Packed size of the session policies and session tags is {percent}% of the allowed limit"
        )
    return percent


def _minified(policy: str) -> str:
    try:
        return minify_policy(policy)
    except MalformedPolicyDocument:
        return policy


__all__ = [
    "PACKED_POLICY_BUDGET_BYTES",
    "SESSION_POLICY_MAX_CHARS",
    "check_packed_policy_size",
    "check_session_policy_text",
    "packed_policy_size",
]
