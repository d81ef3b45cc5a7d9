"""AWS STS wire errors (AWS STS API Reference, "Common Errors" and the STS service model).

One class per wire ``Code``, spelled exactly as AWS spells it. ``status`` is the HTTP status
and ``fault`` the ``<Type>`` of the Query-protocol error document (``Sender`` or ``Receiver``).
Two kinds of code exist:

* the common Query-API codes every AWS service returns (AccessDenied, SignatureDoesNotMatch,
  RequestExpired, ...), from the "Common Errors" page;
* the codes modeled in botocore's ``sts/2011-06-15/service-2.json`` (``error.code`` of each
  exception shape), e.g. ``MalformedPolicyDocument`` or ``IDPRejectedClaim``. Note that two
  shapes keep the ``Exception`` suffix on the wire (``RegionDisabledException``,
  ``InvalidAuthorizationMessageException``) and that ``ExpiredTokenException`` (a web identity
  or SAML assertion that expired) is a different code from ``ExpiredToken`` (the session token
  that signed the request expired).

Descriptions are public and must be ASCII (the base class enforces it); ``detail`` is for logs.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from tessera.errors import ProtocolError

Fault = Literal["Sender", "Receiver"]


class AwsError(ProtocolError):
    """Root of the AWS STS error family; rendered as a Query-protocol ``ErrorResponse``."""

    code: str = "InternalFailure"
    status: int = 500
    fault: ClassVar[Fault] = "Receiver"


class _SenderError(AwsError):
    fault: ClassVar[Fault] = "Sender"


# --- Common Query-API errors ("Common Errors" page) -------------------------------------------


class AccessDenied(_SenderError):
    code = "AccessDenied"
    status = 403


class IncompleteSignature(_SenderError):
    code = "IncompleteSignature"
    status = 400


class InternalFailure(AwsError):
    code = "InternalFailure"
    status = 500


class InvalidAction(_SenderError):
    code = "InvalidAction"
    status = 400


class InvalidClientTokenId(_SenderError):
    code = "InvalidClientTokenId"
    status = 403


class InvalidParameterCombination(_SenderError):
    code = "InvalidParameterCombination"
    status = 400


class InvalidParameterValue(_SenderError):
    code = "InvalidParameterValue"
    status = 400


class InvalidQueryParameter(_SenderError):
    code = "InvalidQueryParameter"
    status = 400


class MalformedQueryString(_SenderError):
    code = "MalformedQueryString"
    status = 404


class MissingAction(_SenderError):
    code = "MissingAction"
    status = 400


class MissingAuthenticationToken(_SenderError):
    code = "MissingAuthenticationToken"
    status = 403


class MissingParameter(_SenderError):
    code = "MissingParameter"
    status = 400


class OptInRequired(_SenderError):
    code = "OptInRequired"
    status = 403


class RequestExpired(_SenderError):
    code = "RequestExpired"
    status = 400


class ServiceUnavailable(AwsError):
    code = "ServiceUnavailable"
    status = 503


class SignatureDoesNotMatch(_SenderError):
    code = "SignatureDoesNotMatch"
    status = 403


class Throttling(_SenderError):
    code = "Throttling"
    status = 400


class ValidationError(_SenderError):
    code = "ValidationError"
    status = 400


class ExpiredToken(_SenderError):
    """The session token that signed the request has expired (not modeled; STS and IAM send 403)."""

    code = "ExpiredToken"
    status = 403


# --- Errors modeled in the STS service model ------------------------------------------------


class ExpiredTokenException(_SenderError):
    """The web identity token or SAML assertion passed to AssumeRoleWith* has expired."""

    code = "ExpiredTokenException"
    status = 400


class IDPCommunicationError(_SenderError):
    code = "IDPCommunicationError"
    status = 400


class IDPRejectedClaim(_SenderError):
    code = "IDPRejectedClaim"
    status = 403


class InvalidAuthorizationMessageException(_SenderError):
    code = "InvalidAuthorizationMessageException"
    status = 400


class InvalidIdentityToken(_SenderError):
    code = "InvalidIdentityToken"
    status = 400


class MalformedPolicyDocument(_SenderError):
    code = "MalformedPolicyDocument"
    status = 400


class PackedPolicyTooLarge(_SenderError):
    code = "PackedPolicyTooLarge"
    status = 400


class RegionDisabledException(_SenderError):
    code = "RegionDisabledException"
    status = 403


def ascii_excerpt(text: str, limit: int = 80) -> str:
    """Client-supplied text cut to ``limit`` and escaped to ASCII, fit for a public description."""
    return text[:limit].encode("ascii", "backslashreplace").decode("ascii")


__all__ = [
    "AccessDenied",
    "AwsError",
    "ExpiredToken",
    "ExpiredTokenException",
    "Fault",
    "IDPCommunicationError",
    "IDPRejectedClaim",
    "IncompleteSignature",
    "InternalFailure",
    "InvalidAction",
    "InvalidAuthorizationMessageException",
    "InvalidClientTokenId",
    "InvalidIdentityToken",
    "InvalidParameterCombination",
    "InvalidParameterValue",
    "InvalidQueryParameter",
    "MalformedPolicyDocument",
    "MalformedQueryString",
    "MissingAction",
    "MissingAuthenticationToken",
    "MissingParameter",
    "OptInRequired",
    "PackedPolicyTooLarge",
    "RegionDisabledException",
    "RequestExpired",
    "ServiceUnavailable",
    "SignatureDoesNotMatch",
    "Throttling",
    "ValidationError",
    "ascii_excerpt",
]
