"""OAuth error classes carry their RFC wire code and HTTP status; descriptions are ASCII (RFC 6749 §5.2)."""

from __future__ import annotations

import inspect

import pytest

from tessera import errors as root_errors
from tessera.errors import (
    ConfigurationError,
    Conflict,
    KeyEncryptionKeyError,
    NotFound,
    ProtocolError,
    TesseraError,
)
from tessera.protocols.oauth2 import errors
from tessera.protocols.oauth2.errors import (
    AccessDenied,
    InvalidClient,
    InvalidGrant,
    InvalidRequest,
    InvalidScope,
    InvalidTarget,
    MethodNotAllowed,
    NotFoundError,
    OAuthError,
    RequestTooLarge,
    ServerError,
    TemporarilyUnavailable,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedTokenType,
)

pytestmark = pytest.mark.unit

WIRE: dict[type[OAuthError], tuple[str, int]] = {
    InvalidRequest: ("invalid_request", 400),  # RFC 6749 §5.2
    InvalidClient: ("invalid_client", 401),  # §5.2: 401 when the client authenticated via the Authorization header
    InvalidGrant: ("invalid_grant", 400),
    UnauthorizedClient: ("unauthorized_client", 400),
    UnsupportedGrantType: ("unsupported_grant_type", 400),
    InvalidScope: ("invalid_scope", 400),
    InvalidTarget: ("invalid_target", 400),  # RFC 8707 §2
    UnsupportedTokenType: ("unsupported_token_type", 400),  # RFC 7009 §2.2.1
    AccessDenied: ("access_denied", 403),  # RFC 6749 §4.1.2.1
    ServerError: ("server_error", 500),
    TemporarilyUnavailable: ("temporarily_unavailable", 503),
    RequestTooLarge: ("invalid_request", 413),
    MethodNotAllowed: ("invalid_request", 405),
    NotFoundError: ("invalid_request", 404),
}


@pytest.mark.parametrize(("cls", "wire"), WIRE.items(), ids=lambda v: getattr(v, "__name__", ""))
def test_wire_code_and_status(cls: type[OAuthError], wire: tuple[str, int]) -> None:
    error = cls("something went wrong")
    assert (error.code, error.status) == wire
    assert (cls.code, cls.status) == wire  # class data, not per instance
    assert isinstance(error, OAuthError)
    assert isinstance(error, ProtocolError)
    assert isinstance(error, TesseraError)


def test_every_oauth_error_class_is_in_the_table() -> None:
    classes = {
        obj
        for name in errors.__all__
        if inspect.isclass(obj := getattr(errors, name)) and issubclass(obj, OAuthError) and obj is not OAuthError
    }
    assert classes == set(WIRE)


def test_class_names_follow_the_wire_code() -> None:
    """STYLE §2: ``invalid_grant`` → ``InvalidGrant`` (variants of invalid_request keep their own names)."""
    for cls, (code, _status) in WIRE.items():
        if code == "invalid_request" and cls is not InvalidRequest:
            assert issubclass(cls, InvalidRequest) or cls is NotFoundError
            continue
        assert cls.__name__ == "".join(part.capitalize() for part in code.split("_"))


def test_variants_of_invalid_request_are_caught_as_invalid_request() -> None:
    assert issubclass(RequestTooLarge, InvalidRequest)
    assert issubclass(MethodNotAllowed, InvalidRequest)


@pytest.mark.parametrize("cls", WIRE, ids=lambda c: c.__name__)
@pytest.mark.parametrize("description", ["résumé", "naïve", "\u2019quoted\u2019", "ключ", "\U0001f511"])
def test_non_ascii_description_is_rejected(cls: type[OAuthError], description: str) -> None:
    with pytest.raises(ValueError, match="ASCII"):
        cls(description)


def test_description_detail_and_reason() -> None:
    error = InvalidClient("client authentication failed", detail="unknown client_id 'x'", reason="unknown_client")
    assert error.description == "client authentication failed"
    assert error.detail == "unknown client_id 'x'"
    assert error.reason == "unknown_client"
    assert str(error) == "client authentication failed"
    assert repr(error) == "InvalidClient('client authentication failed')"
    assert "unknown client_id" not in repr(error)  # the detail is for logs only


def test_defaults() -> None:
    error = InvalidGrant()
    assert error.description == ""
    assert str(error) == "invalid_grant"
    assert error.detail == ""
    assert error.reason == "invalid_grant"


def test_detail_may_be_non_ascii() -> None:
    assert InvalidRequest("bad", detail="paramètre").detail == "paramètre"


def test_root_protocol_error_is_a_500() -> None:
    assert (ProtocolError.code, ProtocolError.status) == ("server_error", 500)
    with pytest.raises(ValueError, match="ASCII"):
        ProtocolError("é")


def test_root_error_hierarchy() -> None:
    for cls in (ConfigurationError, KeyEncryptionKeyError, ProtocolError, NotFound, Conflict):
        assert issubclass(cls, TesseraError)
    assert issubclass(TesseraError, Exception)
    assert set(root_errors.__all__) == {
        "ConfigurationError",
        "Conflict",
        "KeyEncryptionKeyError",
        "NotFound",
        "ProtocolError",
        "TesseraError",
    }


def test_errors_can_be_raised_and_caught_by_family() -> None:
    with pytest.raises(OAuthError) as caught:
        raise InvalidScope("the requested scope is not allowed for this client")
    assert caught.value.code == "invalid_scope"
