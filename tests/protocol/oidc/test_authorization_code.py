"""Authorization code + PKCE (RFC 6749 §4.1, RFC 7636, OIDC Core §3.1) with Authlib as the relying party."""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import hashlib
import json
import threading
import time

import jwt
import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session

from support.live_server import LiveServer
from support.oidc import Browser, RelyingParty, add_rp, events, exchange, pkce_pair, query_of, sign_in

pytestmark = pytest.mark.protocol


def discovery(live: LiveServer) -> dict[str, object]:
    response = requests.get(live.url("/.well-known/openid-configuration"), timeout=5)
    assert response.status_code == 200
    document: dict[str, object] = response.json()
    return document


def verify_id_token(live: LiveServer, token: str, audience: str) -> dict[str, object]:
    jwks = jwt.PyJWKClient(live.url("/oauth2/jwks"))
    key = jwks.get_signing_key_from_jwt(token)
    claims: dict[str, object] = jwt.decode(
        token,
        key.key,
        algorithms=["ES256"],
        audience=audience,
        issuer=live.issuer(),
        options={"require": ["exp", "iat", "sub"]},
    )
    return claims


def test_authlib_code_flow_with_pkce_id_token_and_userinfo(alice: LiveServer) -> None:
    live = alice
    rp = add_rp(live)
    meta = discovery(live)
    session = OAuth2Session(
        rp.client_id,
        rp.secret,
        scope="openid profile email groups",
        redirect_uri=rp.redirect_uri,
        code_challenge_method="S256",
    )
    verifier, _ = pkce_pair()
    uri, state = session.create_authorization_url(
        str(meta["authorization_endpoint"]), code_verifier=verifier, nonce="n-0S6_WzA2Mj"
    )
    browser = Browser(live)
    callback = browser.login(browser.get(uri), "alice")
    assert callback.status_code == 303
    location = callback.headers["location"]
    params = query_of(location)
    live.watch(params["code"])
    assert params["state"] == state
    assert params["iss"] == live.issuer()  # RFC 9207
    token = session.fetch_token(str(meta["token_endpoint"]), authorization_response=location, code_verifier=verifier)
    live.watch(token["access_token"], token["refresh_token"], token["id_token"])
    assert token["token_type"] == "Bearer"
    assert token["scope"] == "openid profile email groups"

    claims = verify_id_token(live, token["id_token"], rp.client_id)
    assert claims["aud"] == rp.client_id  # Google-IAP style verifyIdToken({idToken, audience: client_id})
    assert claims["nonce"] == "n-0S6_WzA2Mj"
    assert claims["amr"] == ["pwd"]
    assert claims["acr"] == "1"
    assert isinstance(claims["auth_time"], int)
    assert isinstance(claims["sid"], str)
    digest = hashlib.sha256(token["access_token"].encode()).digest()
    assert claims["at_hash"] == base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()
    assert claims["email"] == "alice@example.com"
    assert claims["preferred_username"] == "alice"
    assert jwt.get_unverified_header(token["id_token"])["typ"] == "JWT"

    for answer in (
        requests.get(
            str(meta["userinfo_endpoint"]), headers={"authorization": f"Bearer {token['access_token']}"}, timeout=5
        ),
        requests.post(str(meta["userinfo_endpoint"]), data={"access_token": token["access_token"]}, timeout=5),
    ):
        assert answer.status_code == 200, answer.text
        assert answer.headers["cache-control"] == "no-store"
        info = answer.json()
        assert info["sub"] == claims["sub"]
        assert info["email"] == "alice@example.com"
        assert info["email_verified"] is True
        assert info["name"] == "Alice Liddell"
        assert info["groups"] == ["staff", "admins"]
    issued = [e for e in events(live, "token.issue") if e.result == "success"]
    assert issued[-1].details["grant_type"] == "authorization_code"
    assert [e.result for e in events(live, "user.login")] == ["success"]
    assert [e.result for e in events(live, "authorization")] == ["success"]


def test_userinfo_errors_follow_rfc6750(alice: LiveServer) -> None:
    live = alice
    rp = add_rp(live)
    url = live.url("/oauth2/userinfo")
    for no_credentials in ({}, {"authorization": "Basic Zm9vOmJhcg=="}):  # §3.1: no error code then (#16)
        missing = requests.get(url, headers=no_credentials, timeout=5)
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == 'Bearer realm="tessera"'
    missing_post = requests.post(url, data={}, timeout=5)
    assert (missing_post.status_code, missing_post.headers["www-authenticate"]) == (401, 'Bearer realm="tessera"')
    for garbage in ("nope", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", "\u00e9t\u00e9"):
        answer = requests.get(url, headers={"authorization": f"Bearer {garbage}".encode()}, timeout=5)
        assert answer.status_code == 401, garbage
        assert answer.headers["www-authenticate"].startswith('Bearer realm="tessera", error="invalid_token"')
    twice = requests.post(url, headers={"authorization": "Bearer x"}, data={"access_token": "x"}, timeout=5)
    assert twice.status_code == 400
    assert 'error="invalid_request"' in twice.headers["www-authenticate"]
    result = sign_in(Browser(live), rp, scope="profile")  # no openid: an OAuth token, not an OIDC one
    token = exchange(live, rp, result["code"], result["code_verifier"]).json()
    assert "id_token" not in token
    insufficient = requests.get(url, headers={"authorization": f"Bearer {token['access_token']}"}, timeout=5)
    assert insufficient.status_code == 403
    assert 'error="insufficient_scope"' in insufficient.headers["www-authenticate"]


def test_pkce_mismatch_is_invalid_grant(alice: LiveServer) -> None:
    rp = add_rp(alice)
    result = sign_in(Browser(alice), rp)
    wrong, _ = pkce_pair()
    response = exchange(alice, rp, result["code"], wrong)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    missing = exchange(alice, rp, result["code"], None)
    assert missing.json()["error"] == "invalid_grant"
    assert exchange(alice, rp, result["code"], result["code_verifier"]).status_code == 200  # the code was not burnt


def test_reused_code_fails_and_revokes_what_it_issued(alice: LiveServer) -> None:
    live = alice
    rp = add_rp(live)
    result = sign_in(Browser(live), rp)
    first = exchange(live, rp, result["code"], result["code_verifier"])
    assert first.status_code == 200
    tokens = first.json()
    second = exchange(live, rp, result["code"], result["code_verifier"])
    assert second.status_code == 400
    assert second.json()["error"] == "invalid_grant"
    introspection = requests.post(
        live.url("/oauth2/introspect"),
        auth=(rp.client_id, rp.secret),
        data={"token": tokens["access_token"]},
        timeout=5,
    ).json()
    assert introspection == {"active": False}
    refreshed = requests.post(
        live.url("/oauth2/token"),
        auth=(rp.client_id, rp.secret),
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        timeout=5,
    )
    assert refreshed.json()["error"] == "invalid_grant"
    [reuse] = events(live, "code.reuse")
    assert reuse.details["revoked"] >= 1


def test_a_code_reused_during_its_first_exchange_still_revokes_the_refresh_family(
    alice: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RFC 6749 §4.1.2: the replay lands between the code's consumption and the family's creation (#8)."""
    rp = add_rp(alice)
    result = sign_in(Browser(alice), rp)
    families = alice.services.store.refresh_tokens
    create = families.create
    replayed = threading.Event()

    async def create_after_the_replay(token, token_hash):  # type: ignore[no-untyped-def]
        for _ in range(200):  # the server's loop keeps serving the replay meanwhile
            if replayed.is_set():
                break
            await asyncio.sleep(0.01)
        await create(token, token_hash)

    monkeypatch.setattr(families, "create", create_after_the_replay)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        first = pool.submit(exchange, alice, rp, result["code"], result["code_verifier"])
        time.sleep(0.2)
        second = exchange(alice, rp, result["code"], result["code_verifier"])
        replayed.set()
        tokens = first.result(timeout=10).json()
    assert second.json()["error"] == "invalid_grant"
    monkeypatch.setattr(families, "create", create)
    refreshed = requests.post(
        alice.url("/oauth2/token"),
        auth=(rp.client_id, rp.secret),
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        timeout=5,
    )
    assert refreshed.json()["error"] == "invalid_grant"
    introspection = requests.post(
        alice.url("/oauth2/introspect"),
        auth=(rp.client_id, rp.secret),
        data={"token": tokens["access_token"]},
        timeout=5,
    ).json()
    assert introspection == {"active": False}
    [reuse] = events(alice, "code.reuse")
    assert reuse.reason == "code_reused"


def test_codes_are_bound_to_client_and_redirect_uri(alice: LiveServer) -> None:
    rp, other = add_rp(alice), add_rp(alice)
    result = sign_in(Browser(alice), rp)
    stolen = requests.post(
        alice.url("/oauth2/token"),
        auth=(other.client_id, other.secret),
        timeout=5,
        data={
            "grant_type": "authorization_code",
            "code": result["code"],
            "redirect_uri": rp.redirect_uri,
            "code_verifier": result["code_verifier"],
        },
    )
    assert stolen.json()["error"] == "invalid_grant"
    wrong_uri = exchange(alice, rp, result["code"], result["code_verifier"], redirect_uri="http://127.0.0.1:1/other")
    assert wrong_uri.json()["error"] == "invalid_grant"


def test_unknown_client_or_unregistered_redirect_uri_gets_an_error_page_never_a_redirect(alice: LiveServer) -> None:
    rp = add_rp(alice)
    browser = Browser(alice)
    _, challenge = pkce_pair()
    common = {"response_type": "code", "scope": "openid", "code_challenge": challenge, "code_challenge_method": "S256"}
    for params in (
        {"client_id": "nobody", "redirect_uri": rp.redirect_uri},
        {"client_id": rp.client_id, "redirect_uri": "https://evil.example/cb"},
        {"client_id": rp.client_id, "redirect_uri": rp.redirect_uri + "/"},  # exact matching: no prefix, no slash
        {"client_id": rp.client_id},
    ):
        page = browser.authorize(**common, **params)
        assert page.status_code == 400, params
        assert "location" not in page.headers
        assert page.headers["content-type"].startswith("text/html")
        assert 'role="alert"' in page.text
    assert {e.reason for e in events(alice, "authorization")} >= {"unknown_client", "invalid_redirect_uri"}


def test_redirectable_errors_carry_state_and_iss(alice: LiveServer) -> None:
    rp = add_rp(alice)
    public = add_rp(alice, type="public", auth_methods=["none"])
    browser = Browser(alice)
    _, challenge = pkce_pair()
    cases = [
        (
            {
                "client_id": rp.client_id,
                "response_type": "token",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            },
            "unsupported_response_type",
        ),
        (
            {
                "client_id": rp.client_id,
                "response_type": "code",
                "code_challenge": challenge,
                "code_challenge_method": "plain",
            },
            "invalid_request",
        ),
        ({"client_id": rp.client_id, "response_type": "code"}, "invalid_request"),  # PKCE required by default
        ({"client_id": public.client_id, "response_type": "code"}, "invalid_request"),
        (
            {
                "client_id": rp.client_id,
                "response_type": "code",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "scope": "admin",
            },
            "invalid_scope",
        ),
        (
            {
                "client_id": rp.client_id,
                "response_type": "code",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "prompt": "none login",
            },
            "invalid_request",
        ),
        (
            {
                "client_id": rp.client_id,
                "response_type": "code",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "request": "x",
            },
            "request_not_supported",
        ),
    ]
    for params, error in cases:
        target = public if params["client_id"] == public.client_id else rp
        response = browser.authorize(redirect_uri=target.redirect_uri, state="xyz", **params)
        answer = browser.code_from(response)
        assert answer["error"] == error, (params, answer)
        assert answer["state"] == "xyz"
        assert answer["iss"] == alice.issuer()
        assert response.headers["location"].startswith(target.redirect_uri + "?")


def test_prompt_none_without_a_session_is_login_required(alice: LiveServer) -> None:
    rp = add_rp(alice)
    _, challenge = pkce_pair()
    response = Browser(alice).authorize(
        client_id=rp.client_id,
        redirect_uri=rp.redirect_uri,
        response_type="code",
        scope="openid",
        prompt="none",
        state="s1",
        code_challenge=challenge,
        code_challenge_method="S256",
    )
    answer = query_of(response.headers["location"])
    assert (answer["error"], answer["state"]) == ("login_required", "s1")


def test_public_client_with_pkce_and_no_secret(alice: LiveServer) -> None:
    rp = add_rp(alice, type="public", auth_methods=["none"])
    result = sign_in(Browser(alice), rp)
    response = requests.post(
        alice.url("/oauth2/token"),
        timeout=5,
        data={
            "grant_type": "authorization_code",
            "code": result["code"],
            "redirect_uri": rp.redirect_uri,
            "code_verifier": result["code_verifier"],
            "client_id": rp.client_id,
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    alice.watch(body["access_token"], body["refresh_token"], body["id_token"])


def test_a_native_app_may_use_any_port_of_its_loopback_redirect_uri(alice: LiveServer) -> None:
    """RFC 8252 §7.3: public clients' ``http://127.0.0.1/...`` and ``http://[::1]/...`` ignore the port (#20)."""
    registered = ["http://127.0.0.1/callback", "http://[::1]/callback", "http://localhost/callback"]
    app = add_rp(alice, type="public", auth_methods=["none"], redirect_uris=registered, redirect_uri=registered[0])
    browser = Browser(alice)
    for uri in ("http://127.0.0.1:49152/callback", "http://[::1]:8400/callback"):
        result = sign_in(browser, RelyingParty(app.client_id, "", uri))
        assert "code" in result, result
        form = {"grant_type": "authorization_code", "code": result["code"], "client_id": app.client_id}
        form.update(code_verifier=result["code_verifier"])
        if ":49152" in uri:  # the token request must repeat the very URI of the authorization request
            other = {**form, "redirect_uri": uri.replace(":49152", ":49153")}
            assert requests.post(alice.url("/oauth2/token"), data=other, timeout=5).json()["error"] == "invalid_grant"
        answer = requests.post(alice.url("/oauth2/token"), data={**form, "redirect_uri": uri}, timeout=5)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        alice.watch(body["access_token"], body["refresh_token"], body["id_token"])
    confidential = add_rp(alice, redirect_uris=["http://127.0.0.1/callback"], redirect_uri="http://127.0.0.1/callback")
    _, challenge = pkce_pair()
    common = {"response_type": "code", "scope": "openid", "code_challenge": challenge, "code_challenge_method": "S256"}
    for client_id, uri in (
        (app.client_id, "http://localhost:5000/callback"),
        (app.client_id, "http://127.0.0.1:5000/callback/"),
        (app.client_id, "http://127.0.0.1:5000/callback?x=1"),
        (app.client_id, "http://127.0.0.2:5000/callback"),
        (confidential.client_id, "http://127.0.0.1:5000/callback"),
    ):
        page = browser.authorize(client_id=client_id, redirect_uri=uri, **common)
        assert page.status_code == 400, uri
        assert "location" not in page.headers


def test_seed_okta_style_link_for_a_legacy_confidential_client(alice: LiveServer) -> None:
    """The seed's link with only host and credentials changed: no PKCE, Okta paths, scope with spaces."""
    rp = add_rp(alice, require_pkce=False)
    browser = Browser(alice)
    link = (
        f"{alice.base_url}/oauth2/default/v1/authorize?client_id={rp.client_id}&response_type=code"
        f"&scope=openid profile email&redirect_uri={rp.redirect_uri}"
    )
    answer = browser.code_from(browser.login(browser.get(link), "alice"))
    token = requests.post(
        f"{alice.base_url}/oauth2/default/v1/token",
        auth=(rp.client_id, rp.secret),
        timeout=5,
        data={"grant_type": "authorization_code", "code": answer["code"], "redirect_uri": rp.redirect_uri},
    )
    assert token.status_code == 200, token.text
    body = token.json()
    alice.watch(body["access_token"], body["refresh_token"], body["id_token"])
    claims = verify_id_token(alice, body["id_token"], rp.client_id)
    assert claims["email"] == "alice@example.com"
    info = requests.get(
        f"{alice.base_url}/oauth2/default/v1/userinfo",
        headers={"authorization": "Bearer " + body["access_token"]},
        timeout=5,
    )
    assert info.json()["sub"] == claims["sub"]


def test_authorize_accepts_post(alice: LiveServer) -> None:
    rp = add_rp(alice)
    verifier, challenge = pkce_pair()
    browser = Browser(alice)
    page = browser.post(
        alice.url("/oauth2/authorize"),
        {
            "client_id": rp.client_id,
            "redirect_uri": rp.redirect_uri,
            "response_type": "code",
            "scope": "openid",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    )
    answer = browser.code_from(browser.login(page, "alice"))
    assert exchange(alice, rp, answer["code"], verifier).status_code == 200


def test_discovery_document(alice: LiveServer) -> None:
    meta = discovery(alice)
    issuer = alice.issuer()
    assert meta["issuer"] == issuer
    for name, path in (
        ("authorization_endpoint", "/oauth2/authorize"),
        ("token_endpoint", "/oauth2/token"),
        ("userinfo_endpoint", "/oauth2/userinfo"),
        ("jwks_uri", "/oauth2/jwks"),
        ("end_session_endpoint", "/oauth2/logout"),
    ):
        assert meta[name] == issuer + path
    assert meta["response_types_supported"] == ["code"]
    assert meta["subject_types_supported"] == ["public", "pairwise"]
    assert meta["id_token_signing_alg_values_supported"] == ["ES256"]
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert set(meta["grant_types_supported"]) >= {"authorization_code", "refresh_token", "client_credentials"}  # type: ignore[arg-type]
    assert set(meta["scopes_supported"]) >= {"openid", "profile", "email", "groups", "offline_access"}  # type: ignore[arg-type]
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert meta["backchannel_logout_supported"] is True
    assert meta["backchannel_logout_session_supported"] is True
    assert "none" in meta["token_endpoint_auth_methods_supported"]  # type: ignore[operator]
    okta = requests.get(f"{alice.base_url}/oauth2/default/.well-known/openid-configuration", timeout=5).json()
    assert okta == meta  # one tenant, one issuer, one document
    assert requests.get(alice.url("/.well-known/openid-configuration", "nope"), timeout=5).status_code == 404
    assert json.dumps(meta)  # plain JSON


def test_okta_issuer_layout(start_server) -> None:  # type: ignore[no-untyped-def]
    """A tenant whose issuer is <base>/oauth2/<id> publishes Okta's endpoint layout, consistently."""
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    base = f"http://127.0.0.1:{port}"
    live = start_server(
        server={"public_url": base, "port": port}, tenants=[{"id": "default", "issuer": f"{base}/oauth2/default"}]
    )
    meta = requests.get(f"{live.base_url}/oauth2/default/.well-known/openid-configuration", timeout=5).json()
    assert meta["issuer"] == f"{live.settings.server.public_url}/oauth2/default"
    assert meta["authorization_endpoint"] == meta["issuer"] + "/v1/authorize"
    assert meta["token_endpoint"] == meta["issuer"] + "/v1/token"
    assert meta["jwks_uri"] == meta["issuer"] + "/v1/keys"


def test_non_ascii_or_oversized_max_age_is_invalid_request_not_a_500(alice: LiveServer) -> None:
    """OIDC Core §3.1.2.1 ``max_age`` is a number of seconds: ASCII digits only, bounded (#13)."""
    rp = add_rp(alice)
    browser = Browser(alice)
    _, challenge = pkce_pair()
    for max_age in ("\u00b2", "\u0661", "\uff11", "1\u00b9", "99999999999"):  # "²" passes str.isdigit()
        response = browser.authorize(
            client_id=rp.client_id,
            redirect_uri=rp.redirect_uri,
            response_type="code",
            scope="openid",
            code_challenge=challenge,
            code_challenge_method="S256",
            state="s1",
            max_age=max_age,
        )
        answer = browser.code_from(response)
        assert (answer["error"], answer["state"]) == ("invalid_request", "s1"), max_age
