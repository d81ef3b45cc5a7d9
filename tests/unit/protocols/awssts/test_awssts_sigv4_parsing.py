"""Parsing of SigV4 Authorization headers and pre-signed query strings, and the canonical pieces."""

from __future__ import annotations

import pytest

from tessera.protocols.awssts import (
    AuthLocation,
    AwsRequest,
    canonical_headers,
    canonical_query_string,
    canonical_uri,
    check_credential_scope,
    parse_authorization,
)
from tessera.protocols.awssts.errors import (
    IncompleteSignature,
    MissingAuthenticationToken,
    SignatureDoesNotMatch,
)

pytestmark = pytest.mark.unit

CREDENTIAL = "AKIDEXAMPLE/20150830/us-east-1/sts/aws4_request"
SIGNATURE = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
GOOD = f"AWS4-HMAC-SHA256 Credential={CREDENTIAL}, SignedHeaders=host;x-amz-date, Signature={SIGNATURE}"


def _with_auth(value: str, *extra: tuple[str, str]) -> AwsRequest:
    headers = (("Host", "sts.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z"), ("Authorization", value))
    return AwsRequest("POST", "/", "", headers + extra)


def test_header_authorization_is_parsed() -> None:
    info = parse_authorization(_with_auth(GOOD, ("x-amz-security-token", "tok")))
    assert info.location is AuthLocation.HEADER
    assert (info.access_key_id, info.scope_date, info.region, info.service) == (
        "AKIDEXAMPLE",
        "20150830",
        "us-east-1",
        "sts",
    )
    assert info.signed_headers == ("host", "x-amz-date")
    assert info.signature == SIGNATURE
    assert info.credential_scope == "20150830/us-east-1/sts/aws4_request"
    assert info.signed_at == 1440938160.0
    assert info.security_token is not None
    assert repr(info.security_token) == "Secret('****')"


def test_compact_authorization_without_spaces_is_parsed() -> None:
    compact = GOOD.replace(", ", ",")
    assert parse_authorization(_with_auth(compact)).signed_headers == ("host", "x-amz-date")


def test_date_header_is_used_when_x_amz_date_is_absent() -> None:
    request = AwsRequest(
        "GET", "/", "", (("Host", "h"), ("Date", "Sun, 30 Aug 2015 12:36:00 GMT"), ("Authorization", GOOD))
    )
    info = parse_authorization(request)
    assert info.timestamp == "20150830T123600Z"
    assert info.signed_at == 1440938160.0


def test_no_authentication_at_all() -> None:
    with pytest.raises(MissingAuthenticationToken, match="missing Authentication Token"):
        parse_authorization(AwsRequest("POST", "/", "Action=GetCallerIdentity", (("Host", "h"),)))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("AWS AKIDEXAMPLE:abc", "Unsupported AWS 'algorithm'"),
        ("AWS4-ECDSA-P256-SHA256 Credential=x", "Unsupported AWS 'algorithm'"),
        (f"AWS4-HMAC-SHA256 Credential={CREDENTIAL}, Signature={SIGNATURE}", "requires 'SignedHeaders'"),
        (
            "AWS4-HMAC-SHA256 SignedHeaders=host",
            "requires 'Credential' parameter. Authorization header requires",
        ),
        (f"AWS4-HMAC-SHA256 {CREDENTIAL}, SignedHeaders=host, Signature=x", "not a valid key=value pair"),
        (GOOD + ", Signature=abc", "repeats the 'Signature'"),
        (GOOD.replace(CREDENTIAL, "AKIDEXAMPLE/20150830/us-east-1/sts"), "Credential must have the form"),
        (GOOD.replace(CREDENTIAL, "AKID EXAMPLE/20150830/us-east-1/sts/aws4_request"), "access key id"),
        (GOOD.replace("20150830/", "2015083/"), "YYYYMMDD"),
        (GOOD.replace("us-east-1", "us east 1"), "malformed region"),
        (GOOD.replace("host;x-amz-date", "x-amz-date;host"), "sorted"),
        (GOOD.replace("host;x-amz-date", "Host;x-amz-date"), "lower-case"),
        (GOOD.replace("host;x-amz-date", "host;host"), "sorted and must not repeat"),
        (GOOD.replace("host;x-amz-date", "host;;x-amz-date"), "lower-case"),
    ],
)
def test_malformed_authorization_header(value: str, message: str) -> None:
    with pytest.raises(IncompleteSignature, match=message):
        parse_authorization(_with_auth(value))


def test_malformed_or_missing_dates() -> None:
    no_date = AwsRequest("GET", "/", "", (("Host", "h"), ("Authorization", GOOD)))
    with pytest.raises(IncompleteSignature, match="'X-Amz-Date' or a 'Date' header"):
        parse_authorization(no_date)
    bad = AwsRequest("GET", "/", "", (("Host", "h"), ("X-Amz-Date", "2015-08-30T12:36:00Z"), ("Authorization", GOOD)))
    with pytest.raises(IncompleteSignature, match="basic format"):
        parse_authorization(bad)
    impossible = AwsRequest("GET", "/", "", (("X-Amz-Date", "20151330T123600Z"), ("Authorization", GOOD)))
    with pytest.raises(IncompleteSignature, match="not a valid date"):
        parse_authorization(impossible)
    http_bad = AwsRequest("GET", "/", "", (("Date", "yesterday"), ("Authorization", GOOD)))
    with pytest.raises(IncompleteSignature, match="HTTP date"):
        parse_authorization(http_bad)


def test_repeated_authorization_or_token_headers_are_refused() -> None:
    with pytest.raises(IncompleteSignature, match="exactly one Authorization"):
        parse_authorization(_with_auth(GOOD, ("Authorization", GOOD)))
    with pytest.raises(IncompleteSignature, match="repeats the x-amz-security-token"):
        parse_authorization(_with_auth(GOOD, ("X-Amz-Security-Token", "a"), ("x-amz-security-token", "b")))


def test_non_ascii_client_text_is_escaped_in_descriptions() -> None:
    with pytest.raises(IncompleteSignature) as caught:
        parse_authorization(_with_auth("AWS4-HMAC-SHA256\u00e9 Credential=x"))
    assert caught.value.description.isascii()


PRESIGNED = (
    "Action=GetCallerIdentity&X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fsts%2Faws4_request"
    "&X-Amz-Date=20150830T123600Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host"
    f"&X-Amz-Security-Token=a%2Bb%3D&X-Amz-Signature={SIGNATURE}"
)


def test_presigned_query_is_parsed() -> None:
    info = parse_authorization(AwsRequest("GET", "/", PRESIGNED, (("Host", "h"),)))
    assert info.location is AuthLocation.QUERY
    assert info.is_presigned
    assert info.expires_seconds == 60
    assert info.signed_headers == ("host",)
    assert info.security_token is not None
    assert info.security_token.reveal() == "a+b="


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (PRESIGNED.replace("&X-Amz-Date=20150830T123600Z", ""), "must include"),
        (PRESIGNED.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1"), "Unsupported AWS 'algorithm'"),
        (PRESIGNED.replace("X-Amz-Expires=60", "X-Amz-Expires=soon"), "should be a number"),
        (PRESIGNED + "&X-Amz-Date=20150830T123600Z", "repeats 'X-Amz-Date'"),
        (PRESIGNED.replace("%2Fsts%2F", "%2Fs%FFts%2F"), "not valid UTF-8"),
    ],
)
def test_malformed_presigned_query(query: str, message: str) -> None:
    with pytest.raises(IncompleteSignature, match=message):
        parse_authorization(AwsRequest("GET", "/", query, (("Host", "h"),)))


def test_header_and_query_auth_together_are_refused() -> None:
    request = AwsRequest(
        "GET", "/", PRESIGNED, (("Host", "h"), ("X-Amz-Date", "20150830T123600Z"), ("Authorization", GOOD))
    )
    with pytest.raises(IncompleteSignature, match="Only one auth mechanism"):
        parse_authorization(request)


def test_scope_checks() -> None:
    info = parse_authorization(_with_auth(GOOD))
    check_credential_scope(info)
    with pytest.raises(SignatureDoesNotMatch, match="valid terminator"):
        check_credential_scope(parse_authorization(_with_auth(GOOD.replace("aws4_request", "aws5_request"))))
    with pytest.raises(SignatureDoesNotMatch, match="Date in Credential scope"):
        check_credential_scope(parse_authorization(_with_auth(GOOD.replace("/20150830/", "/20150831/"))))
    with pytest.raises(SignatureDoesNotMatch, match="'Host'"):
        check_credential_scope(parse_authorization(_with_auth(GOOD.replace("host;x-amz-date", "x-amz-date"))))


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("", "/"),
        ("/", "/"),
        ("//", "/"),
        ("/a/./b/../c/", "/a/c/"),
        ("/a/../..", "/"),
        ("/%E1%88%B4", "/%25E1%2588%25B4"),  # the wire form, encoded once more (non-S3 rule)
        ("/example space/", "/example%20space/"),
        ("/~user/A-Z_0.9", "/~user/A-Z_0.9"),
        ("/a+b=c", "/a%2Bb%3Dc"),
    ],
)
def test_canonical_uri(raw: str, canonical: str) -> None:
    assert canonical_uri(raw) == canonical


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("", ""),
        ("b=2&a=1", "a=1&b=2"),
        ("a=2&a=1&A=3", "A=3&a=1&a=2"),
        ("flag&x=", "flag=&x="),
        ("a=x+y", "a=x%20y"),
        ("a=x%2By", "a=x%2By"),
        ("k%7e=%7E&s=a/b", "k~=~&s=a%2Fb"),
        ("a=1&&b=2&", "a=1&b=2"),
        ("e=%E1%88%B4", "e=%E1%88%B4"),
    ],
)
def test_canonical_query_string(raw: str, canonical: str) -> None:
    assert canonical_query_string(raw) == canonical


def test_canonical_query_string_drops_excluded_names() -> None:
    assert canonical_query_string("X-Amz-Signature=ab&a=1", exclude=(b"X-Amz-Signature",)) == "a=1"


def test_canonical_headers_trim_collapse_and_join_repeats() -> None:
    request = AwsRequest(
        "GET",
        "/",
        "",
        (("My-Header", "  a   b\t c "), ("Host", "h"), ("my-header", "second")),
    )
    assert canonical_headers(request, ("host", "my-header")) == "host:h\nmy-header:a b c,second\n"


def test_signed_header_that_is_absent_fails_the_signature() -> None:
    with pytest.raises(SignatureDoesNotMatch):
        canonical_headers(AwsRequest("GET", "/", "", (("Host", "h"),)), ("host", "x-custom"))
