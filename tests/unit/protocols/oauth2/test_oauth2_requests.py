"""Strict form parsing (RFC 6749 §3.1, §3.2, Appendix B) and the content-type check."""

from __future__ import annotations

import pytest

from tessera.protocols.oauth2.errors import InvalidRequest
from tessera.protocols.oauth2.requests import (
    FORM_CONTENT_TYPE,
    MAX_FIELDS,
    FormParams,
    is_form_content_type,
    parse_form,
)

pytestmark = pytest.mark.unit


def test_simple_form() -> None:
    form = parse_form(b"grant_type=client_credentials&scope=read")
    assert form.single == {"grant_type": "client_credentials", "scope": "read"}
    assert form.multi == {}
    assert form.get("grant_type") == "client_credentials"
    assert form.get("missing") is None
    assert "scope" in form
    assert "missing" not in form


def test_empty_body() -> None:
    form = parse_form(b"")
    assert form.single == {}
    assert form.multi == {}


@pytest.mark.parametrize("body", [b"scope=", b"scope", b"scope=&", b"&scope=&&", b"scope=&scope="])
def test_parameters_without_a_value_are_omitted(body: bytes) -> None:
    """RFC 6749 §3.1: sent without a value, treated as omitted."""
    assert "scope" not in parse_form(body)


def test_an_omitted_value_does_not_count_as_a_repeat() -> None:
    assert parse_form(b"scope=&scope=read").get("scope") == "read"
    assert parse_form(b"scope=read&scope=").get("scope") == "read"


@pytest.mark.parametrize(
    "body",
    [
        b"scope=a&scope=b",
        b"scope=a&scope=a",
        b"client_id=a&client%5Fid=a",  # the same name once decoded
        b"scope=a&grant_type=x&scope=b",
    ],
)
def test_repeated_parameters_are_invalid(body: bytes) -> None:
    """RFC 6749 §3.2: request and response parameters MUST NOT be included more than once."""
    with pytest.raises(InvalidRequest) as caught:
        parse_form(body)
    assert caught.value.code == "invalid_request"
    assert "more than once" in caught.value.description


def test_the_repeat_error_names_the_parameter_in_ascii() -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_form("näme=1&näme=2".encode())
    assert caught.value.description.isascii()
    assert "n?me" in caught.value.description


def test_resource_may_repeat() -> None:
    """RFC 8707 §2: several resource parameters."""
    form = parse_form(b"resource=https%3A%2F%2Fa.example&resource=https://b.example&scope=x")
    assert form.all("resource") == ("https://a.example", "https://b.example")
    assert form.get("resource") is None
    assert "resource" in form
    assert form.all("scope") == ()
    assert form.get("scope") == "x"


def test_single_resource_is_in_multi() -> None:
    assert parse_form(b"resource=urn:x").all("resource") == ("urn:x",)


def test_repeatable_names_are_configurable() -> None:
    form = parse_form(b"audience=a&audience=b", repeatable=("audience",))
    assert form.all("audience") == ("a", "b")
    with pytest.raises(InvalidRequest):
        parse_form(b"resource=a&resource=b", repeatable=())


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        (b"v=a+b", "a b"),
        (b"v=a%20b", "a b"),
        (b"v=a%2Bb", "a+b"),
        (b"v=%3D%26", "=&"),
        (b"v=a=b", "a=b"),  # only the first '=' separates
        (b"v=%C3%A9t%C3%A9", "été"),
        (b"v=%c3%a9", "é"),  # lower-case hex
        ("v=été".encode(), "été"),  # raw UTF-8
        (b"v=100%", "100%"),  # a lone '%' stays
        (b"v=%zz", "%zz"),  # not a percent-escape: kept as is (WHATWG)
        (b"v=%2", "%2"),
        (b"v=+", " "),
        (b"v=%F0%9F%94%91", "\U0001f511"),
    ],
)
def test_values_are_form_decoded(raw: bytes, decoded: str) -> None:
    assert parse_form(raw).get("v") == decoded


def test_names_are_form_decoded() -> None:
    assert parse_form(b"client%5Fid=a&my+name=b").single == {"client_id": "a", "my name": "b"}


@pytest.mark.parametrize("body", [b"v=\xff", b"v=\xc3", b"\xe9=1", b"v=ok&w=\xed\xa0\x80"])
def test_invalid_raw_utf8_is_invalid_request(body: bytes) -> None:
    with pytest.raises(InvalidRequest, match="UTF-8"):
        parse_form(body)


@pytest.mark.parametrize("body", [b"v=%FF", b"v=%C3", b"v=%C3%28", b"%FF=1", b"v=%ED%A0%80", b"v=%C0%AF"])
def test_invalid_percent_encoded_utf8_is_invalid_request(body: bytes) -> None:
    with pytest.raises(InvalidRequest, match="UTF-8"):
        parse_form(body)


def test_at_most_max_fields() -> None:
    body = "&".join(f"p{n}=v" for n in range(MAX_FIELDS)).encode()
    assert len(parse_form(body).single) == MAX_FIELDS
    with pytest.raises(InvalidRequest, match="too many"):
        parse_form(body + b"&one=more")


def test_empty_fields_count_toward_the_limit() -> None:
    with pytest.raises(InvalidRequest, match="too many"):
        parse_form(b"&" * MAX_FIELDS)


def test_require() -> None:
    form = parse_form(b"grant_type=client_credentials")
    assert form.require("grant_type") == "client_credentials"
    with pytest.raises(InvalidRequest) as caught:
        form.require("scope")
    assert caught.value.description == "missing parameter: scope"


def test_require_names_a_non_ascii_parameter_in_ascii() -> None:
    with pytest.raises(InvalidRequest) as caught:
        FormParams({}, {}).require("pärameter")
    assert caught.value.description.isascii()


def test_form_params_are_immutable() -> None:
    form = parse_form(b"a=1")
    with pytest.raises(AttributeError):
        form.single = {}  # type: ignore[misc]


# Content type -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "content_type",
    [
        FORM_CONTENT_TYPE,
        "application/x-www-form-urlencoded",
        "Application/X-WWW-Form-URLEncoded",
        "application/x-www-form-urlencoded;charset=utf-8",
        "application/x-www-form-urlencoded; charset=utf-8",
        "application/x-www-form-urlencoded; charset=UTF-8",
        'application/x-www-form-urlencoded; charset="utf-8"',
        "application/x-www-form-urlencoded ; charset=utf-8",
        "application/x-www-form-urlencoded;",
        " application/x-www-form-urlencoded ",
    ],
)
def test_form_content_types(content_type: str) -> None:
    assert is_form_content_type(content_type)


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "",
        "application/json",
        "multipart/form-data; boundary=x",
        "text/plain",
        "application/x-www-form-urlencoded-extra",
        "application/x-www-form",
        "application/x-www-form-urlencoded; charset=iso-8859-1",
        "application/x-www-form-urlencoded; charset=utf-16",
        "application/x-www-form-urlencoded; charset=utf-8; boundary=x",
        "application/x-www-form-urlencoded; foo=bar",
        "x-www-form-urlencoded",
    ],
)
def test_other_content_types(content_type: str | None) -> None:
    assert not is_form_content_type(content_type)
