"""The one renderer per protocol: OAuth JSON (RFC 6749 §5.1/§5.2) and plain JSON documents."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import escape

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse, Response

from tessera.protocols.awssts.errors import AwsError
from tessera.protocols.awssts.responses import Member, StsResult
from tessera.protocols.oauth2.errors import InvalidClient, OAuthError

NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(_ENCODER.encode(body).encode(), status, headers, media_type="application/json")


def json_bytes_response(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status, headers, media_type="application/json")


def oauth_response(body: dict[str, Any]) -> Response:
    """A token, introspection or other OAuth answer: never cached (RFC 6749 §5.1)."""
    return json_response(body, 200, NO_STORE)


def oauth_error(exc: OAuthError, request_id: str = "") -> Response:
    body: dict[str, Any] = {"error": exc.code}
    if exc.description:
        body["error_description"] = exc.description
    if exc.status >= 500 and request_id:
        body["request_id"] = request_id
    headers = dict(NO_STORE)
    if isinstance(exc, InvalidClient):
        headers["www-authenticate"] = 'Basic realm="tessera", charset="UTF-8"'
    if exc.status == 405:
        headers["allow"] = "POST"
    return json_response(body, exc.status, headers)


# HTML pages for people -------------------------------------------------------------------------------
_PAGES = Environment(
    loader=PackageLoader("tessera.web", "templates"),
    autoescape=select_autoescape(default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def page_headers(form_targets: Sequence[str] = ()) -> dict[str, str]:
    """Security headers of every HTML page: no inline script anywhere, no framing, no caching, no referrer.

    ``form_targets``: origins a form submission may end up at (Chrome applies ``form-action`` to
    the redirect that follows a POST, and the login form's redirect goes back to the client).
    """
    form_action = " ".join(["'self'", *dict.fromkeys(form_targets)])
    return {
        "content-security-policy": (
            "default-src 'none'; style-src 'self'; img-src 'self' https: data:; "
            f"form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
        ),
        "x-content-type-options": "nosniff",
        "x-frame-options": "DENY",
        "referrer-policy": "no-referrer",
        "cache-control": "no-store",
        "pragma": "no-cache",
    }


def html_page(
    template: str,
    context: dict[str, Any],
    status: int = 200,
    *,
    form_targets: Sequence[str] = (),
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render one of ``web/templates`` (autoescaped) with the security headers."""
    body = _PAGES.get_template(template).render(**context)
    return HTMLResponse(body, status, {**page_headers(form_targets), **(headers or {})})


# AWS Query protocol (STS): XML documents ------------------------------------------------------------
STS_NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"
_XML_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_members(out: list[str], members: Sequence[Member]) -> None:
    """Append ``<name>text</name>`` for each member; names are Tessera's constants, every text is escaped."""
    for name, value in members:
        if isinstance(value, str | int):
            out.append(f"<{name}>{escape(_XML_UNSAFE.sub('?', str(value)))}</{name}>")
        else:
            out.append(f"<{name}>")
            _xml_members(out, value)
            out.append(f"</{name}>")


def aws_result_xml(result: StsResult, request_id: str) -> bytes:
    """``<Action>Response``: the ``<Action>Result`` members and ``ResponseMetadata/RequestId``."""
    out = [f'<{result.action}Response xmlns="{STS_NAMESPACE}">']
    _xml_members(out, [(f"{result.action}Result", result.members), ("ResponseMetadata", [("RequestId", request_id)])])
    out.append(f"</{result.action}Response>")
    return "".join(out).encode("utf-8")


def aws_error_xml(exc: AwsError, request_id: str) -> bytes:
    """The Query-protocol ``ErrorResponse`` botocore parses (``Error/Type``, ``Code``, ``Message``)."""
    out = [f'<ErrorResponse xmlns="{STS_NAMESPACE}">']
    error = [("Type", exc.fault), ("Code", exc.code), ("Message", exc.description or exc.code)]
    _xml_members(out, [("Error", error), ("RequestId", request_id)])
    out.append("</ErrorResponse>")
    return "".join(out).encode("utf-8")


def aws_headers(request_id: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-type", b"text/xml"),
        (b"x-amzn-requestid", request_id.encode("ascii", "replace")),
        (b"cache-control", b"no-store"),
    ]


__all__ = [
    "NO_STORE",
    "STS_NAMESPACE",
    "aws_error_xml",
    "aws_headers",
    "aws_result_xml",
    "html_page",
    "json_bytes_response",
    "json_response",
    "oauth_error",
    "oauth_response",
    "page_headers",
]
