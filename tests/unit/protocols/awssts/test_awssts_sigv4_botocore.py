"""SigV4 verification against requests signed by the real botocore signer, and tampered copies."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import botocore.auth
import botocore.session
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSRequest
from botocore.credentials import Credentials

from tessera.protocols.awssts import (
    AuthLocation,
    AwsRequest,
    SigV4Limits,
    parse_authorization,
    verify_signature,
)
from tessera.protocols.awssts.errors import IncompleteSignature, RequestExpired, SignatureDoesNotMatch
from tessera.secret import Secret

pytestmark = pytest.mark.unit

ACCESS_KEY = "ASIAEXAMPLE7EXAMPLE7"
SECRET = "uV3F3YLqm/OtYHeFyYeGx3YpZ0Hq8p+GkGoHkN/1"
TOKEN = "FQoGZXIvYXdzEXAMPLE+token/with=padding"
SIGNED_AT = datetime(2025, 6, 15, 10, 0, 0)
NOW = SIGNED_AT.replace(tzinfo=UTC).timestamp()
STS_URL = "https://sts.us-east-1.amazonaws.com/"
FORM = "application/x-www-form-urlencoded; charset=utf-8"
BODY = b"Action=GetCallerIdentity&Version=2011-06-15"


class _Captured(Exception):
    """Stops botocore just before it would touch the network."""


@pytest.fixture(autouse=True)
def _hermetic_botocore(monkeypatch: pytest.MonkeyPatch) -> None:
    """Freeze botocore's clock and keep the developer's AWS configuration out of the tests."""
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *args, **kwargs: SIGNED_AT)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS", "AWS_STS_REGIONAL_ENDPOINTS"):
        monkeypatch.delenv(name, raising=False)


def _to_request(prepared: AWSPreparedRequest | AWSRequest) -> AwsRequest:
    parts = urlsplit(prepared.url)
    headers = [(str(k), v.decode() if isinstance(v, bytes) else str(v)) for k, v in prepared.headers.items()]
    if not any(name.lower() == "host" for name, _ in headers):
        headers.append(("Host", parts.netloc))  # urllib3 adds it on the wire
    body = prepared.body or b""
    return AwsRequest(
        str(prepared.method),
        parts.path or "/",
        parts.query,
        tuple(headers),
        body.encode() if isinstance(body, str) else bytes(body),
    )


def _signed(
    *,
    method: str = "POST",
    url: str = STS_URL,
    body: bytes = BODY,
    headers: dict[str, str] | None = None,
    service: str = "sts",
    region: str = "us-east-1",
    secret: str = SECRET,
    token: str | None = TOKEN,
    presign_expires: int | None = None,
    context: dict[str, Any] | None = None,
) -> AwsRequest:
    request = AWSRequest(method=method, url=url, data=body, headers=headers or {"Content-Type": FORM})
    request.context.update(context or {})
    credentials = Credentials(ACCESS_KEY, secret, token)
    if presign_expires is None:
        botocore.auth.SigV4Auth(credentials, service, region).add_auth(request)
    else:
        botocore.auth.SigV4QueryAuth(credentials, service, region, expires=presign_expires).add_auth(request)
    return _to_request(request.prepare())


def _verify(request: AwsRequest, *, now: float = NOW, **kwargs: Any) -> AuthLocation:
    info = parse_authorization(request)
    return verify_signature(info, request, Secret(SECRET), now, **kwargs).location


def _replace_header(request: AwsRequest, name: str, value: str) -> AwsRequest:
    headers = tuple((k, value if k.lower() == name else v) for k, v in request.headers)
    return dataclasses.replace(request, headers=headers)


# --- Accepted -------------------------------------------------------------------------------------


def test_sigv4auth_post_with_session_token_verifies() -> None:
    request = _signed()
    info = parse_authorization(request)
    assert info.access_key_id == ACCESS_KEY
    assert info.security_token is not None
    assert info.security_token.reveal() == TOKEN
    assert info.signed_headers == ("content-type", "host", "x-amz-date", "x-amz-security-token")
    assert verify_signature(info, request, Secret(SECRET), NOW) is info


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-3", "ap-southeast-2", "us-gov-west-1"])
def test_any_region_is_accepted_and_reported(region: str) -> None:
    request = _signed(region=region)
    assert verify_signature(parse_authorization(request), request, Secret(SECRET), NOW).region == region


def test_get_with_percent_encoded_path_and_query_verifies() -> None:
    url = "https://sts.amazonaws.com/a%20b/./c//d?Action=GetCallerIdentity&Version=2011-06-15&x=a%2Bb%20c&e="
    assert _verify(_signed(method="GET", url=url, body=b"", headers={})) is AuthLocation.HEADER


def test_headers_added_after_signing_do_not_matter() -> None:
    request = _signed()
    request = dataclasses.replace(request, headers=(*request.headers, ("X-Forwarded-For", "10.0.0.1")))
    assert _verify(request) is AuthLocation.HEADER


def test_presigned_url_with_token_verifies() -> None:
    url = STS_URL + "?Action=GetCallerIdentity&Version=2011-06-15"
    request = _signed(method="GET", url=url, body=b"", headers={}, presign_expires=60, region="eu-west-1")
    info = parse_authorization(request)
    assert info.is_presigned
    assert info.expires_seconds == 60
    assert info.region == "eu-west-1"
    assert info.security_token is not None
    assert info.security_token.reveal() == TOKEN
    assert verify_signature(info, request, Secret(SECRET), NOW + 59) is info


def test_unsigned_payload_only_when_allowed() -> None:
    request = _signed(context={"payload_signing_enabled": False})
    assert request.header_values("x-amz-content-sha256") == ["UNSIGNED-PAYLOAD"]
    with pytest.raises(SignatureDoesNotMatch):
        _verify(request)
    assert _verify(request, allow_unsigned_payload=True) is AuthLocation.HEADER


def test_declared_payload_hash_must_match_body() -> None:
    request = _signed(url="http://sts.local:8000/")  # plain http: botocore always hashes the body
    assert _verify(request) is AuthLocation.HEADER
    with pytest.raises(SignatureDoesNotMatch):
        _verify(dataclasses.replace(request, body=BODY + b"&x=1"))


# --- The real boto3/botocore client ------------------------------------------------------------


def _client() -> Any:
    session = botocore.session.get_session()
    return session.create_client(
        "sts",
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET,
        aws_session_token=TOKEN,
    )


def _capture(call: Callable[[Any], object]) -> AwsRequest:
    client = _client()
    sent: list[AWSPreparedRequest] = []

    def before_send(request: AWSPreparedRequest, **kwargs: object) -> None:
        sent.append(request)
        raise _Captured

    client.meta.events.register("before-send", before_send)
    with pytest.raises(_Captured):
        call(client)
    return _to_request(sent[0])


def test_client_assume_role_request_verifies() -> None:
    request = _capture(
        lambda c: c.assume_role(
            RoleArn="arn:aws:iam::123456789012:role/demo",
            RoleSessionName="alice@example.com",
            Policy='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}',
            Tags=[{"Key": "team name", "Value": "a+b=c"}],
            DurationSeconds=900,
        )
    )
    assert request.method == "POST"
    assert b"Action=AssumeRole" in request.body
    assert _verify(request) is AuthLocation.HEADER


def test_client_get_caller_identity_request_verifies() -> None:
    assert _verify(_capture(lambda c: c.get_caller_identity())) is AuthLocation.HEADER


@pytest.mark.parametrize("http_method", ["GET", "POST"])
def test_client_presigned_get_caller_identity_verifies(http_method: str) -> None:
    url = _client().generate_presigned_url("get_caller_identity", ExpiresIn=300, HttpMethod=http_method)
    parts = urlsplit(url)
    request = AwsRequest(http_method, parts.path or "/", parts.query, (("host", parts.netloc),))
    assert _verify(request) is AuthLocation.QUERY


# --- Rejected ---------------------------------------------------------------------------------------


def test_changed_body_is_rejected() -> None:
    request = _signed()
    with pytest.raises(SignatureDoesNotMatch):
        _verify(dataclasses.replace(request, body=BODY.replace(b"GetCallerIdentity", b"GetSessionToken")))


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("content-type", "application/json"),
        ("x-amz-security-token", TOKEN + "x"),
        ("host", "evil.example.com"),
        ("x-amz-date", "20250615T100001Z"),
    ],
)
def test_changed_signed_header_is_rejected(header: str, value: str) -> None:
    with pytest.raises(SignatureDoesNotMatch):
        _verify(_replace_header(_signed(), header, value))


def test_changed_method_or_path_is_rejected() -> None:
    request = _signed()
    with pytest.raises(SignatureDoesNotMatch):
        _verify(dataclasses.replace(request, method="PUT"))
    with pytest.raises(SignatureDoesNotMatch):
        _verify(dataclasses.replace(request, path="/other"))


def test_wrong_secret_is_rejected() -> None:
    with pytest.raises(SignatureDoesNotMatch):
        _verify(_signed(secret=SECRET[:-1] + "2"))


def test_wrong_service_is_rejected() -> None:
    request = _signed(service="iam")
    with pytest.raises(SignatureDoesNotMatch, match="correct service: 'sts'"):
        _verify(request)
    assert _verify(request, service="iam") is AuthLocation.HEADER


@pytest.mark.parametrize(("inside", "outside"), [(899.0, 901.0), (-899.0, -901.0)])
def test_clock_skew_beyond_fifteen_minutes_is_rejected(inside: float, outside: float) -> None:
    request = _signed()
    assert _verify(request, now=NOW + inside) is AuthLocation.HEADER
    with pytest.raises(RequestExpired):
        _verify(request, now=NOW + outside)


def test_skew_window_is_a_parameter() -> None:
    request = _signed()
    with pytest.raises(RequestExpired, match="1 min"):
        _verify(request, now=NOW + 61, limits=SigV4Limits(max_skew_seconds=60))


def test_presigned_url_expires() -> None:
    request = _signed(method="GET", url=STS_URL + "?Action=GetCallerIdentity", body=b"", headers={}, presign_expires=60)
    with pytest.raises(RequestExpired, match="expired"):
        _verify(request, now=NOW + 61)
    with pytest.raises(RequestExpired, match="not yet current"):
        _verify(request, now=NOW - 901)


def test_presigned_expiry_above_seven_days_is_refused() -> None:
    request = _signed(method="GET", url=STS_URL, body=b"", headers={}, presign_expires=604_801)
    with pytest.raises(IncompleteSignature, match="X-Amz-Expires"):
        _verify(request)
    assert _verify(_signed(method="GET", url=STS_URL, body=b"", headers={}, presign_expires=604_800)) is (
        AuthLocation.QUERY
    )


def test_presigned_tampered_query_is_rejected() -> None:
    request = _signed(method="GET", url=STS_URL + "?Action=GetCallerIdentity", body=b"", headers={}, presign_expires=60)
    tampered = dataclasses.replace(request, query=request.query.replace("GetCallerIdentity", "GetSessionToken"))
    with pytest.raises(SignatureDoesNotMatch):
        _verify(tampered)
    longer = dataclasses.replace(request, query=request.query + "&Extra=1")
    with pytest.raises(SignatureDoesNotMatch):
        _verify(longer)
