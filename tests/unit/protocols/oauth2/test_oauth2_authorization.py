"""Validating authorization requests (RFC 6749 §4.1.2.1): which errors redirect and which are pages."""

from __future__ import annotations

from typing import Any

import pytest

from tessera.domain.clients import Client
from tessera.protocols.oauth2.authorization import (
    AuthorizationRequest,
    PageError,
    RedirectError,
    error_redirect,
    parse_query,
    redirect_uri_with,
    validate_authorization_request,
)
from tessera.settings import ClientConfig

pytestmark = pytest.mark.unit
CB = "https://app.example/cb"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def client(**spec: Any) -> Client:
    spec.setdefault("grant_types", ["authorization_code", "refresh_token"])
    spec.setdefault("redirect_uris", [CB])
    return Client("t", ClientConfig(client_id="app", **spec))


def params(**extra: str) -> dict[str, str]:
    values = {
        "client_id": "app",
        "redirect_uri": CB,
        "response_type": "code",
        "scope": "openid",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
        "state": "st",
    }
    values.update(extra)
    return {k: v for k, v in values.items() if v != "-"}


def validate(
    values: dict[str, str], the_client: Client | None = None, repeated: set[str] | None = None
) -> AuthorizationRequest:
    return validate_authorization_request(values, repeated or set(), the_client if the_client is not None else client())


def test_a_valid_request_round_trips_through_its_record() -> None:
    request = validate(params(nonce="n", prompt="login consent", max_age="60", login_hint="al", ui_locales="fr en"))
    assert request.scopes == ("openid",)
    assert request.prompt == ("login", "consent")
    assert (request.max_age, request.nonce, request.login_hint, request.ui_locales) == (60, "n", "al", ("fr", "en"))
    assert AuthorizationRequest.from_record(request.to_record()) == request


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        (params(client_id="-"), "missing_client_id"),
        (params(redirect_uri="-"), "missing_redirect_uri"),
        (params(redirect_uri="https://evil.example/cb"), "invalid_redirect_uri"),
        (params(redirect_uri=CB + "?x=1"), "invalid_redirect_uri"),
        (params(redirect_uri="HTTPS://app.example/cb"), "invalid_redirect_uri"),
    ],
)
def test_errors_before_the_redirect_uri_is_trusted_are_pages(values: dict[str, str], reason: str) -> None:
    with pytest.raises(PageError) as caught:
        validate(values)
    assert caught.value.error.reason == reason


def test_unknown_disabled_clients_and_repeated_targets_are_pages() -> None:
    with pytest.raises(PageError):
        validate_authorization_request(params(), set(), None)
    with pytest.raises(PageError):
        validate(params(), client(disabled=True))
    with pytest.raises(PageError):
        validate(params(), repeated={"redirect_uri"})


@pytest.mark.parametrize(
    ("values", "code"),
    [
        (params(response_type="-"), "invalid_request"),
        (params(response_type="token"), "unsupported_response_type"),
        (params(response_type="code id_token"), "unsupported_response_type"),
        (params(response_mode="fragment"), "invalid_request"),
        (params(code_challenge="-", code_challenge_method="-"), "invalid_request"),
        (params(code_challenge_method="plain"), "invalid_request"),
        (params(code_challenge_method="-"), "invalid_request"),
        (params(code_challenge="tooshort"), "invalid_request"),
        (params(scope="openid admin"), "invalid_scope"),
        (params(scope='bad"scope'), "invalid_scope"),
        (params(prompt="none login"), "invalid_request"),
        (params(prompt="bogus"), "invalid_request"),
        (params(max_age="-5"), "invalid_request"),
        (params(max_age="soon"), "invalid_request"),
        (params(max_age="\u00b2"), "invalid_request"),  # "²": str.isdigit() says yes, int() raises (#13)
        (params(max_age="\u0661\u0662"), "invalid_request"),  # Arabic-Indic digits
        (params(max_age="\uff11"), "invalid_request"),  # fullwidth 1
        (params(max_age="12345678901"), "invalid_request"),
        (params(request="eyJ..."), "request_not_supported"),
        (params(request_uri="https://x"), "request_uri_not_supported"),
        (params(registration="{}"), "registration_not_supported"),
    ],
)
def test_errors_after_it_is_trusted_redirect_with_state(values: dict[str, str], code: str) -> None:
    with pytest.raises(RedirectError) as caught:
        validate(values)
    assert caught.value.error.code == code
    assert (caught.value.redirect_uri, caught.value.state) == (CB, "st")
    location = error_redirect(caught.value, "https://sts.example/t/x")
    assert location.startswith(CB + "?error=" + code)
    assert "state=st" in location
    assert "iss=https%3A%2F%2Fsts.example%2Ft%2Fx" in location


def test_a_client_without_the_code_grant_is_unauthorized() -> None:
    with pytest.raises(RedirectError) as caught:
        validate(params(), client(grant_types=["client_credentials"], redirect_uris=[CB]))
    assert caught.value.error.code == "unauthorized_client"


def test_pkce_opt_out_only_for_legacy_confidential_clients() -> None:
    legacy = client(require_pkce=False)
    assert validate(params(code_challenge="-", code_challenge_method="-"), legacy).code_challenge is None
    with pytest.raises(ValueError, match="public client must use PKCE"):
        client(type="public", auth_methods=["none"], require_pkce=False)
    public = client(type="public", auth_methods=["none"])
    with pytest.raises(RedirectError):
        validate(params(code_challenge="-", code_challenge_method="-"), public)


def test_offline_access_only_for_clients_that_may_refresh() -> None:
    assert validate(params(scope="openid offline_access")).scopes == ("openid", "offline_access")
    no_refresh = client(grant_types=["authorization_code"])
    assert validate(params(scope="openid offline_access"), no_refresh).scopes == ("openid",)


def test_declared_scopes_and_defaults() -> None:
    custom = client(scopes=["api:read"], default_scopes=["api:read"])
    assert validate(params(scope="openid api:read"), custom).scopes == ("openid", "api:read")
    assert validate(params(scope="-"), custom).scopes == ("api:read",)


def test_query_parsing_and_redirect_building() -> None:
    values, repeated = parse_query("a=1&b=&a=2&c=%20x")
    assert values == {"a": "2", "c": " x"}
    assert repeated == {"a"}
    assert redirect_uri_with("https://x/cb?keep=1", {"code": "c", "state": None}) == "https://x/cb?keep=1&code=c"
    assert redirect_uri_with("https://x/cb", {"state": "a b&"}) == "https://x/cb?state=a+b%26"


@pytest.mark.parametrize(
    ("uri", "problem"),
    [
        ("https://app.example/cb", None),
        ("http://127.0.0.1:8080/cb", None),
        ("http://localhost/cb", None),
        ("http://[::1]:9/cb", None),
        ("http://app.example/cb", "must use https"),
        ("https://app.example/cb#frag", "without a fragment"),
        ("/relative/cb", "absolute URI"),
        ("javascript:alert(1)", "absolute URI"),
    ],
)
def test_registered_redirect_uris_are_checked(uri: str, problem: str | None) -> None:
    spec = {"client_id": "app", "grant_types": ["authorization_code"], "redirect_uris": [uri]}
    if problem is None:
        assert ClientConfig.model_validate(spec).redirect_uris == [uri]
    else:
        with pytest.raises(ValueError, match=problem):
            ClientConfig.model_validate(spec)


def test_client_options_are_consistent() -> None:
    with pytest.raises(ValueError, match="needs at least one redirect_uri"):
        ClientConfig(client_id="app", grant_types=["authorization_code"])
    with pytest.raises(ValueError, match="client_uri"):
        ClientConfig(client_id="app", client_uri="javascript:alert(1)")
    with pytest.raises(ValueError, match="backchannel_logout_uri"):
        ClientConfig(client_id="app", backchannel_logout_uri="http://rp.example/logout")
    with pytest.raises(ValueError, match="sector_identifier"):
        ClientConfig(client_id="app", subject_type="pairwise")


NATIVE_V4, NATIVE_V6 = "http://127.0.0.1/cb", "http://[::1]/cb?app=1"


def native(**spec: Any) -> Client:
    spec.setdefault("redirect_uris", [NATIVE_V4, NATIVE_V6, "http://localhost/cb"])
    return client(type="public", auth_methods=["none"], **spec)


@pytest.mark.parametrize(
    "uri",
    ["http://127.0.0.1:1/cb", "http://127.0.0.1:51234/cb", "http://127.0.0.1:65535/cb", "http://[::1]:8080/cb?app=1"],
)
def test_a_native_apps_loopback_uri_matches_any_port(uri: str) -> None:
    """RFC 8252 §7.3 (#20)."""
    assert validate(params(redirect_uri=uri), native()).redirect_uri == uri


@pytest.mark.parametrize(
    "uri",
    [
        "http://localhost:5000/cb",  # only IP literals: "localhost" may resolve elsewhere (RFC 8252 §8.3)
        "http://127.0.0.2:5000/cb",
        "http://127.0.0.1:5000/cb/",
        "http://127.0.0.1:5000/CB",
        "http://127.0.0.1:5000/cb?x=1",
        "http://[::1]:5000/cb",  # the registered query is app=1
        "http://[::1]:5000/cb?app=1&x=2",
        "https://127.0.0.1:5000/cb",
        "http://127.0.0.1:0/cb",
        "http://127.0.0.1:99999/cb",
        "http://127.0.0.1:/cb",
        "http://127.0.0.1:5000@evil.example/cb",
        "http://127.0.0.1:5000/cb#fragment",
        "HTTP://127.0.0.1:5000/cb",
    ],
)
def test_nothing_else_relaxes_exact_matching(uri: str) -> None:
    with pytest.raises(PageError) as caught:
        validate(params(redirect_uri=uri), native())
    assert caught.value.error.reason == "invalid_redirect_uri"


def test_confidential_clients_keep_exact_loopback_ports() -> None:
    confidential = client(redirect_uris=[NATIVE_V4, "http://127.0.0.1:4000/cb"])
    assert validate(params(redirect_uri="http://127.0.0.1:4000/cb"), confidential).redirect_uri.endswith(":4000/cb")
    for uri in ("http://127.0.0.1:5000/cb", "http://127.0.0.1:4001/cb"):
        with pytest.raises(PageError):
            validate(params(redirect_uri=uri), confidential)
