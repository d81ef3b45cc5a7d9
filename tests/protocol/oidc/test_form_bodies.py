"""Form bodies of the pages and of /authorize, /userinfo: bounded and strict like the token endpoint (#11).

An oversized body is a 413, anything that is not a UTF-8 form-encoded body a 400: never a 500.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from support.live_server import LiveServer

pytestmark = pytest.mark.protocol

FORM = "application/x-www-form-urlencoded"
PAGES = ("/t/default/login", "/t/default/consent", "/t/default/logout", "/t/default/oauth2/logout")
AUTHORIZE = "/t/default/oauth2/authorize"
USERINFO = "/t/default/oauth2/userinfo"


def post(live: LiveServer, path: str, body: bytes | Iterator[bytes], content_type: str | None) -> requests.Response:
    headers = {"content-type": content_type} if content_type else {}
    return requests.post(live.base_url + path, data=body, headers=headers, allow_redirects=False, timeout=30)


def big_chunks() -> Iterator[bytes]:  # no Content-Length: chunked, so the limit is checked while reading
    for _ in range(32):
        yield b"a=" + b"x" * 65_536 + b"&"


def test_oversized_bodies_are_413(live_server: LiveServer) -> None:
    two_megabytes = b"username=" + b"x" * 2_000_000
    for path in (*PAGES, AUTHORIZE, USERINFO):
        declared = post(live_server, path, two_megabytes, FORM)
        assert declared.status_code == 413, (path, declared.status_code)
        chunked = post(live_server, path, big_chunks(), FORM)
        assert chunked.status_code == 413, (path, chunked.status_code)
    assert "text/html" in post(live_server, PAGES[0], two_megabytes, FORM).headers["content-type"]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--y--', "multipart/form-data; boundary=x"),
        (b"--x\r\nbroken", "multipart/form-data"),  # no boundary at all
        (b"username=%ff%fe&password=x", FORM),  # percent-encoded bytes that are not UTF-8
        (b"username=\xff\xfe&password=x", FORM),  # raw bytes that are not UTF-8
        (b"username=a&username=b", FORM),  # a repeated parameter
        (b'{"username": "a"}', "application/json"),
        (b"username=a", None),
        (b"username=a", FORM + "; charset=latin-1"),
    ],
)
def test_malformed_bodies_are_400_pages(live_server: LiveServer, body: bytes, content_type: str | None) -> None:
    for path in PAGES:
        answer = post(live_server, path, body, content_type)
        assert answer.status_code == 400, (path, answer.status_code, answer.text[:300])
        assert "text/html" in answer.headers["content-type"]
        assert "server_error" not in answer.text


def test_authorize_and_userinfo_refuse_unreadable_bodies_without_a_500(live_server: LiveServer) -> None:
    for body, content_type in ((b"client_id=\xff", FORM), (b"--x\r\nbroken", "multipart/form-data; boundary=x")):
        assert post(live_server, AUTHORIZE, body, content_type).status_code == 400
    odd = post(live_server, AUTHORIZE, b"client_id=%ff&redirect_uri=%zz", FORM)  # lenient, like a query string
    assert odd.status_code == 400
    bad = post(live_server, USERINFO, b"access_token=%ff", FORM)
    assert bad.status_code == 400
    assert bad.headers["www-authenticate"].startswith('Bearer realm="tessera", error="invalid_request"')
