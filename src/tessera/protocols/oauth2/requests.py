"""Strict parsing of form-encoded OAuth requests (RFC 6749 §3.1, §3.2, Appendix B)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote_plus

from tessera.protocols.oauth2.errors import InvalidRequest

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
MAX_FIELDS = 64


@dataclass(frozen=True, slots=True)
class FormParams:
    """Request parameters: at most one value each, except those a spec lets repeat (``resource``)."""

    single: Mapping[str, str]
    multi: Mapping[str, tuple[str, ...]]

    def get(self, name: str) -> str | None:
        return self.single.get(name)

    def require(self, name: str) -> str:
        value = self.single.get(name)
        if value is None:
            raise InvalidRequest(f"missing parameter: {_ascii(name)}")
        return value

    def all(self, name: str) -> tuple[str, ...]:
        return self.multi.get(name, ())

    def __contains__(self, name: str) -> bool:
        return name in self.single or name in self.multi


def is_form_content_type(content_type: str | None) -> bool:
    """``application/x-www-form-urlencoded``, optionally with a UTF-8 charset parameter."""
    if not content_type:
        return False
    media_type, _, params = content_type.partition(";")
    if media_type.strip().lower() != FORM_CONTENT_TYPE:
        return False
    charset = params.strip().lower()
    return charset in ("", "charset=utf-8", 'charset="utf-8"')


def parse_form(body: bytes, repeatable: Iterable[str] = ("resource",)) -> FormParams:
    """Parse a form body; empty values count as omitted (§3.1); repeats are ``invalid_request`` (§3.2)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequest("the request body is not valid UTF-8") from None
    parts = text.split("&")
    if len(parts) > MAX_FIELDS:
        raise InvalidRequest("too many parameters")
    repeat_ok = frozenset(repeatable)
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for part in parts:
        raw_name, _, raw_value = part.partition("=")
        if not raw_value:
            continue  # no value: treated as omitted (RFC 6749 §3.1)
        name, value = _decode(raw_name), _decode(raw_value)
        if not value:
            continue
        if name in repeat_ok:
            multi.setdefault(name, []).append(value)
        elif name in single:
            raise InvalidRequest(f"parameter included more than once: {_ascii(name)}")
        else:
            single[name] = value
    return FormParams(single, {k: tuple(v) for k, v in multi.items()})


def _decode(text: str) -> str:
    """application/x-www-form-urlencoded decoding (WHATWG URL §5.1), strict about UTF-8."""
    if "%" not in text and "+" not in text:
        return text
    if len(text) <= 128:
        return _decode_short(text)  # scopes, grant types, resource URIs: the same few values over and over
    return _decode_any(text)


def _decode_any(text: str) -> str:
    try:
        return unquote_plus(text, errors="strict")
    except UnicodeDecodeError:
        raise InvalidRequest("a parameter is not valid UTF-8 after percent-decoding") from None


_decode_short = lru_cache(maxsize=2048)(_decode_any)


def _ascii(text: str) -> str:
    """A parameter name made safe for an error description (RFC 6749 §5.2 character set)."""
    return re.sub(r"[^\x20\x21\x23-\x5b\x5d-\x7e]", "?", text)[:64]


__all__ = ["FORM_CONTENT_TYPE", "FormParams", "is_form_content_type", "parse_form"]
