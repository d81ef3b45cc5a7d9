"""AssumeRoleWithWebIdentity with a token from Tessera's own OAuth side and from an independent test issuer."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import botocore.exceptions
import pytest
import requests
from botocore import UNSIGNED
from botocore.config import Config
from joserfc import jwt
from joserfc.jwk import ECKey

from support.awssts import ACCOUNT, error_of, session_key, sts_client, sts_tenant
from support.live_server import LiveServer
from tessera.settings_aws import RoleConfig

pytestmark = pytest.mark.protocol


class LoopbackIssuer:
    """A tiny OpenID Connect issuer on loopback: discovery, a JWKS, and keys generated here."""

    def __init__(self) -> None:
        self.keys = [ECKey.generate_key("P-256", parameters={"kid": "k1", "alg": "ES256", "use": "sig"})]
        self.jwks_hits = 0
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": issuer.url, "jwks_uri": issuer.url + "/jwks"}
                elif self.path == "/jwks":
                    issuer.jwks_hits += 1
                    body = {"keys": [k.as_dict(private=False) for k in issuer.keys]}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def token(self, key: ECKey | None = None, **claims: Any) -> str:
        key = key or self.keys[0]
        now = int(time.time())
        body = {"iss": self.url, "sub": "repo:acme/app:ref:refs/heads/main", "aud": "sts.amazonaws.com"}
        body.update(iat=now, exp=now + 300)
        body.update(claims)
        return jwt.encode({"alg": "ES256", "kid": key.kid}, body, key)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def issuer() -> Iterator[LoopbackIssuer]:
    test_issuer = LoopbackIssuer()
    yield test_issuer
    test_issuer.stop()


def anonymous_sts(server: LiveServer) -> Any:
    return boto3.client(
        "sts",
        endpoint_url=server.base_url,
        region_name="us-east-1",
        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}),
    )


def federated_role(name: str, provider: str, **conditions: Any) -> RoleConfig:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{provider}"},
        "Action": "sts:AssumeRoleWithWebIdentity",
    }
    if conditions:
        statement["Condition"] = conditions
    return RoleConfig(name=name, trust_policy={"Version": "2012-10-17", "Statement": [statement]})


@pytest.fixture
def web_server(start_server: Callable[..., LiveServer], issuer: LoopbackIssuer) -> LiveServer:
    provider = {"issuer": issuer.url, "audiences": ["sts.amazonaws.com"]}
    return start_server(tenants=[sts_tenant(oidc_providers=[provider])])


def add_role(server: LiveServer, role: RoleConfig) -> str:
    server.run(lambda: server.services.aws.roles.create("default", role, "test"))
    return f"arn:aws:iam::{ACCOUNT}:role/{role.name}"


def web_identity_error(call: Callable[[], Any]) -> tuple[str, int]:
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        call()
    return error_of(caught.value)


def test_a_token_from_an_independent_issuer(web_server: LiveServer, issuer: LoopbackIssuer) -> None:
    name = issuer.url.removeprefix("http://")
    arn = add_role(web_server, federated_role("CiDeploy", name, StringLike={f"{name}:sub": "repo:acme/*"}))
    sts = anonymous_sts(web_server)
    response = sts.assume_role_with_web_identity(RoleArn=arn, RoleSessionName="gha", WebIdentityToken=issuer.token())
    temporary = session_key(web_server, response)
    assert response["SubjectFromWebIdentityToken"] == "repo:acme/app:ref:refs/heads/main"
    assert response["Audience"] == "sts.amazonaws.com"
    assert response["Provider"] == issuer.url
    identity = sts_client(web_server, temporary).get_caller_identity()
    assert identity["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/CiDeploy/gha"

    assert web_identity_error(
        lambda: sts.assume_role_with_web_identity(
            RoleArn=arn, RoleSessionName="gha", WebIdentityToken=issuer.token(sub="repo:evil/x")
        )
    ) == ("AccessDenied", 403)
    assert web_identity_error(
        lambda: sts.assume_role_with_web_identity(
            RoleArn=arn, RoleSessionName="gha", WebIdentityToken=issuer.token(aud="other")
        )
    ) == ("InvalidIdentityToken", 400)
    expired = issuer.token(exp=int(time.time()) - 600, iat=int(time.time()) - 900)
    assert web_identity_error(
        lambda: sts.assume_role_with_web_identity(RoleArn=arn, RoleSessionName="gha", WebIdentityToken=expired)
    ) == ("ExpiredTokenException", 400)
    foreign = ECKey.generate_key("P-256", parameters={"kid": "k1"})
    assert web_identity_error(
        lambda: sts.assume_role_with_web_identity(
            RoleArn=arn, RoleSessionName="gha", WebIdentityToken=issuer.token(key=foreign)
        )
    ) == ("InvalidIdentityToken", 400)
    unknown_issuer = issuer.token(iss="https://elsewhere.example")
    assert web_identity_error(
        lambda: sts.assume_role_with_web_identity(RoleArn=arn, RoleSessionName="gha", WebIdentityToken=unknown_issuer)
    ) == ("InvalidIdentityToken", 400)
    for garbage in ("not-a-jwt", "eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.", "abcd.efgh.ijkl"):
        assert web_identity_error(
            lambda g=garbage: sts.assume_role_with_web_identity(RoleArn=arn, RoleSessionName="gha", WebIdentityToken=g)  # type: ignore[misc]
        ) == ("InvalidIdentityToken", 400)


def test_a_rotated_issuer_key_is_fetched_once(web_server: LiveServer, issuer: LoopbackIssuer) -> None:
    name = issuer.url.removeprefix("http://")
    arn = add_role(web_server, federated_role("Rotating", name))
    sts = anonymous_sts(web_server)
    session_key(
        web_server,
        sts.assume_role_with_web_identity(RoleArn=arn, RoleSessionName="one", WebIdentityToken=issuer.token()),
    )
    session_key(
        web_server,
        sts.assume_role_with_web_identity(RoleArn=arn, RoleSessionName="two", WebIdentityToken=issuer.token()),
    )
    assert issuer.jwks_hits == 1  # cached
    new = ECKey.generate_key("P-256", parameters={"kid": "k2", "alg": "ES256", "use": "sig"})
    issuer.keys.append(new)
    web_server.services.aws.issuer_keys._cache.clear()
    session_key(
        web_server,
        sts.assume_role_with_web_identity(RoleArn=arn, RoleSessionName="three", WebIdentityToken=issuer.token(key=new)),
    )
    assert issuer.jwks_hits == 2


def test_a_token_from_tesseras_own_oauth_side(web_server: LiveServer) -> None:
    client_id, secret = web_server.create_client("deployer")
    token_response = requests.post(
        web_server.url("/oauth2/token"),
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
        timeout=10,
    )
    assert token_response.status_code == 200, token_response.text
    access_token = token_response.json()["access_token"]
    provider = web_server.issuer().removeprefix("http://")
    arn = add_role(web_server, federated_role("OwnTokens", provider, StringEquals={f"{provider}:sub": client_id}))
    sts = anonymous_sts(web_server)
    response = sts.assume_role_with_web_identity(RoleArn=arn, RoleSessionName="own", WebIdentityToken=access_token)
    session_key(web_server, response)
    assert response["SubjectFromWebIdentityToken"] == client_id
    assert response["Provider"] == web_server.issuer()
    other_id, other_secret = web_server.create_client("someone-else")
    other = requests.post(
        web_server.url("/oauth2/token"),
        data={"grant_type": "client_credentials"},
        auth=(other_id, other_secret),
        timeout=10,
    ).json()["access_token"]
    web_server.watch(other)
    assert web_identity_error(
        lambda: sts.assume_role_with_web_identity(RoleArn=arn, RoleSessionName="own", WebIdentityToken=other)
    ) == ("AccessDenied", 403)


def _client_token(server: LiveServer, client_id: str, secret: str) -> str:
    response = requests.post(
        server.url("/oauth2/token"), data={"grant_type": "client_credentials"}, auth=(client_id, secret), timeout=10
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    server.watch(token)
    return token


def _own_token_role(server: LiveServer) -> Callable[[str], Any]:
    provider = server.issuer().removeprefix("http://")
    arn = add_role(server, federated_role("OwnRevocable", provider))
    sts = anonymous_sts(server)

    def assume(token: str) -> Any:
        return sts.assume_role_with_web_identity(RoleArn=arn, RoleSessionName="own", WebIdentityToken=token)

    return assume


def test_revoked_own_tokens_are_invalid_identity_tokens(web_server: LiveServer) -> None:
    assume = _own_token_role(web_server)
    # RFC 7009 revocation: the token is on the denylist, introspection and STS both refuse it.
    client_id, secret = web_server.create_client("revoker")
    revoked = _client_token(web_server, client_id, secret)
    session_key(web_server, assume(revoked))
    answer = requests.post(
        web_server.url("/oauth2/revoke"), data={"token": revoked}, auth=(client_id, secret), timeout=10
    )
    assert answer.status_code == 200
    assert web_identity_error(lambda: assume(revoked)) == ("InvalidIdentityToken", 400)
    assert _client_token(web_server, client_id, secret) != revoked  # the client's other tokens still work
    session_key(web_server, assume(_client_token(web_server, client_id, secret)))


def test_own_tokens_of_disabled_or_deleted_clients_are_invalid_identity_tokens(web_server: LiveServer) -> None:
    assume = _own_token_role(web_server)
    # A disabled client's tokens, then a deleted client's, stop working (the Directory's revision watch).
    disabled_id, disabled_secret = web_server.create_client("to-disable")
    of_disabled = _client_token(web_server, disabled_id, disabled_secret)
    deleted_id, deleted_secret = web_server.create_client("to-delete")
    of_deleted = _client_token(web_server, deleted_id, deleted_secret)
    session_key(web_server, assume(of_disabled))
    session_key(web_server, assume(of_deleted))
    web_server.run(lambda: web_server.services.clients.set_disabled("default", disabled_id, True, "test"))
    web_server.run(lambda: web_server.services.clients.delete("default", deleted_id, "test"))
    web_server.run(web_server.services.directory.refresh)
    assert web_identity_error(lambda: assume(of_disabled)) == ("InvalidIdentityToken", 400)
    assert web_identity_error(lambda: assume(of_deleted)) == ("InvalidIdentityToken", 400)


def test_an_own_id_token_is_accepted_and_logout_tokens_are_not(start_server: Callable[..., LiveServer]) -> None:
    from support.oidc import Browser, add_rp, add_user, exchange, logout_receiver, sign_in

    server = start_server(tenants=[sts_tenant(own_issuer_audiences=["webapp"])])
    provider = server.issuer().removeprefix("http://")
    user = add_user(server, "alice")
    arn = add_role(server, federated_role("UserRole", provider, StringEquals={f"{provider}:sub": user.user_id}))
    sts = anonymous_sts(server)
    with logout_receiver() as receiver:
        rp = add_rp(server, "webapp", backchannel_logout_uri=receiver.uri)
        browser = Browser(server)
        signed_in = sign_in(browser, rp)
        tokens = exchange(server, rp, signed_in["code"], signed_in["code_verifier"]).json()
        id_token, access_token = tokens["id_token"], tokens["access_token"]
        response = sts.assume_role_with_web_identity(RoleArn=arn, RoleSessionName="alice", WebIdentityToken=id_token)
        session_key(server, response)
        assert response["SubjectFromWebIdentityToken"] == user.user_id
        assert response["Audience"] == "webapp"
        session_key(
            server,
            sts.assume_role_with_web_identity(RoleArn=arn, RoleSessionName="alice", WebIdentityToken=access_token),
        )
        browser.get(server.url("/oauth2/logout") + "?id_token_hint=" + id_token)
        [logout_token] = receiver.wait_for(1)
    server.watch(logout_token)
    header = logout_token.split(".")[0]
    assert json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["typ"] == "logout+jwt"
    # Signed by the tenant, for an accepted audience, with the user's sub and an exp: still not an identity.
    assert web_identity_error(
        lambda: sts.assume_role_with_web_identity(RoleArn=arn, RoleSessionName="alice", WebIdentityToken=logout_token)
    ) == ("InvalidIdentityToken", 400)
    # The SSO logout denylisted the access tokens of the session: STS honours it as introspection does.
    assert web_identity_error(
        lambda: sts.assume_role_with_web_identity(RoleArn=arn, RoleSessionName="alice", WebIdentityToken=access_token)
    ) == ("InvalidIdentityToken", 400)


def test_an_external_token_of_another_type_is_refused(web_server: LiveServer, issuer: LoopbackIssuer) -> None:
    name = issuer.url.removeprefix("http://")
    arn = add_role(web_server, federated_role("TypedTokens", name))
    sts = anonymous_sts(web_server)
    now = int(time.time())
    claims = {"iss": issuer.url, "sub": "someone", "aud": "sts.amazonaws.com", "iat": now, "exp": now + 300}
    for typ, accepted in (("JWT", True), ("at+jwt", True), ("application/at+jwt", True), ("logout+jwt", False)):
        token = jwt.encode({"alg": "ES256", "kid": "k1", "typ": typ}, claims, issuer.keys[0])
        call = lambda t=token: sts.assume_role_with_web_identity(  # noqa: E731
            RoleArn=arn, RoleSessionName="typed", WebIdentityToken=t
        )
        if accepted:
            session_key(web_server, call())
        else:
            assert web_identity_error(call) == ("InvalidIdentityToken", 400)
