"""Every failure of the token endpoint answers with the exact RFC 6749 §5.2 error, never a 500."""

from __future__ import annotations

import base64

import pytest
import requests

from support.live_server import LiveServer

pytestmark = pytest.mark.protocol

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def post(live: LiveServer, data: object, path: str = "/oauth2/token", **kwargs: object) -> requests.Response:
    return requests.post(live.url(path), data=data, timeout=5, **kwargs)  # type: ignore[arg-type]


def assert_error(response: requests.Response, status: int, code: str) -> dict[str, str]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["error"] == code, body
    assert "Traceback" not in response.text
    return body  # type: ignore[no-any-return]


@pytest.fixture
def client(live_server: LiveServer) -> tuple[str, str]:
    return live_server.create_client(audiences=["urn:api"])


def test_wrong_secret_is_invalid_client_with_401_and_challenge(
    live_server: LiveServer, client: tuple[str, str]
) -> None:
    response = post(live_server, {"grant_type": "client_credentials"}, auth=(client[0], "wrong-" + client[1]))
    assert_error(response, 401, "invalid_client")
    assert response.headers["www-authenticate"].startswith("Basic ")


def test_unknown_client_looks_exactly_like_a_wrong_secret(live_server: LiveServer, client: tuple[str, str]) -> None:
    wrong = post(live_server, {"grant_type": "client_credentials"}, auth=(client[0], "nope"))
    unknown = post(live_server, {"grant_type": "client_credentials"}, auth=("no-such-client", "nope"))
    assert (wrong.status_code, wrong.json()) == (unknown.status_code, unknown.json())


def test_no_client_authentication_at_all(live_server: LiveServer) -> None:
    assert_error(post(live_server, {"grant_type": "client_credentials"}), 401, "invalid_client")


def test_malformed_basic_header(live_server: LiveServer) -> None:
    response = post(live_server, {"grant_type": "client_credentials"}, headers={"Authorization": "Basic !!!not-b64"})
    assert_error(response, 401, "invalid_client")
    no_colon = base64.b64encode(b"just-an-id").decode()
    response = post(live_server, {"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {no_colon}"})
    assert_error(response, 401, "invalid_client")


def test_two_authentication_methods_at_once(live_server: LiveServer, client: tuple[str, str]) -> None:
    data = {"grant_type": "client_credentials", "client_id": client[0], "client_secret": client[1]}
    assert_error(post(live_server, data, auth=client), 400, "invalid_request")


def test_method_the_client_did_not_register(live_server: LiveServer) -> None:
    client_id, secret = live_server.create_client(auth_methods=["client_secret_basic"])
    data = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    assert_error(post(live_server, data), 401, "invalid_client")


def test_disabled_client(live_server: LiveServer) -> None:
    client_id, secret = live_server.create_client(disabled=True)
    assert_error(
        post(live_server, {"grant_type": "client_credentials"}, auth=(client_id, secret)), 401, "invalid_client"
    )


def test_missing_grant_type(live_server: LiveServer, client: tuple[str, str]) -> None:
    body = assert_error(post(live_server, {"scope": "api:read"}, auth=client), 400, "invalid_request")
    assert "grant_type" in body["error_description"]


def test_unsupported_grant_type(live_server: LiveServer, client: tuple[str, str]) -> None:
    response = post(live_server, {"grant_type": "password", "username": "u", "password": "p"}, auth=client)
    assert_error(response, 400, "unsupported_grant_type")
    assert_error(post(live_server, {"grant_type": "implicit"}, auth=client), 400, "unsupported_grant_type")


def test_grant_the_client_may_not_use(live_server: LiveServer) -> None:
    client_id, secret = live_server.create_client(
        grant_types=["authorization_code"], redirect_uris=["https://app.example/callback"]
    )
    response = post(live_server, {"grant_type": "client_credentials"}, auth=(client_id, secret))
    assert_error(response, 400, "unauthorized_client")


def test_scope_the_client_may_not_have(live_server: LiveServer, client: tuple[str, str]) -> None:
    response = post(live_server, {"grant_type": "client_credentials", "scope": "api:read admin"}, auth=client)
    assert_error(response, 400, "invalid_scope")


def test_malformed_scope(live_server: LiveServer, client: tuple[str, str]) -> None:
    response = post(live_server, {"grant_type": "client_credentials", "scope": 'api:read "quoted"'}, auth=client)
    assert_error(response, 400, "invalid_scope")


def test_resource_not_allowed_or_not_absolute(live_server: LiveServer, client: tuple[str, str]) -> None:
    data = {"grant_type": "client_credentials", "resource": "urn:elsewhere"}
    assert_error(post(live_server, data, auth=client), 400, "invalid_target")
    data = {"grant_type": "client_credentials", "resource": "relative/path"}
    assert_error(post(live_server, data, auth=client), 400, "invalid_target")
    data = {"grant_type": "client_credentials", "resource": "urn:api#fragment"}
    assert_error(post(live_server, data, auth=client), 400, "invalid_target")


def test_duplicate_parameters(live_server: LiveServer, client: tuple[str, str]) -> None:
    body = "grant_type=client_credentials&scope=api:read&scope=api:write"
    response = post(live_server, body, auth=client, headers=FORM)
    assert_error(response, 400, "invalid_request")


def test_wrong_content_types(live_server: LiveServer, client: tuple[str, str]) -> None:
    response = requests.post(
        live_server.url("/oauth2/token"), json={"grant_type": "client_credentials"}, auth=client, timeout=5
    )
    assert_error(response, 400, "invalid_request")
    for content_type in (
        "text/plain",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded; charset=latin-1",
    ):
        response = post(
            live_server, "grant_type=client_credentials", auth=client, headers={"Content-Type": content_type}
        )
        assert_error(response, 400, "invalid_request")
    response = post(live_server, "grant_type=client_credentials", auth=client, headers={"Content-Type": ""})
    assert_error(response, 400, "invalid_request")


def test_malformed_bodies(live_server: LiveServer, client: tuple[str, str]) -> None:
    for body in (b"\xff\xfe\x00garbage", b"grant_type=client_credentials&scope=%ff", b"%%%%&&&===", b"&" * 5000):
        response = post(live_server, body, auth=client, headers=FORM)
        assert response.status_code == 400, body
        assert response.json()["error"] in ("invalid_request", "invalid_scope")


def test_oversized_body(live_server: LiveServer, client: tuple[str, str]) -> None:
    body = "grant_type=client_credentials&pad=" + "x" * 70_000
    assert_error(post(live_server, body, auth=client, headers=FORM), 413, "invalid_request")


def test_oversized_body_without_content_length(live_server: LiveServer, client: tuple[str, str]) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        yield b"grant_type=client_credentials&pad="
        for _ in range(100):
            yield b"x" * 1000

    assert_error(post(live_server, chunks(), auth=client, headers=FORM), 413, "invalid_request")


def test_get_is_not_allowed(live_server: LiveServer) -> None:
    response = requests.get(live_server.url("/oauth2/token") + "?grant_type=client_credentials", timeout=5)
    assert_error(response, 405, "invalid_request")
    assert response.headers["allow"] == "POST"


def test_parameters_in_the_query_string_are_ignored(live_server: LiveServer, client: tuple[str, str]) -> None:
    response = requests.post(
        live_server.url("/oauth2/token") + "?grant_type=client_credentials", auth=client, data={}, timeout=5
    )
    assert_error(response, 400, "invalid_request")


def test_unknown_tenant(live_server: LiveServer, client: tuple[str, str]) -> None:
    response = requests.post(
        live_server.url("/oauth2/token", tenant="nowhere"),
        auth=client,
        data={"grant_type": "client_credentials"},
        timeout=5,
    )
    assert_error(response, 404, "invalid_request")


def test_public_client_cannot_use_client_credentials(live_server: LiveServer) -> None:
    client_id, _ = live_server.create_client(
        type="public",
        auth_methods=["none"],
        grant_types=["authorization_code"],
        redirect_uris=["https://app.example/callback"],
    )
    response = post(live_server, {"grant_type": "client_credentials", "client_id": client_id})
    assert response.status_code in (400, 401)
    assert response.json()["error"] in ("unauthorized_client", "invalid_client")


def test_failures_are_audited_with_their_reason(live_server: LiveServer, client: tuple[str, str]) -> None:
    post(live_server, {"grant_type": "client_credentials"}, auth=(client[0], "bad"))
    post(live_server, {"grant_type": "client_credentials", "scope": "nope"}, auth=client)
    events = live_server.run(lambda: live_server.services.store.audit.search(_query(client[0])))
    seen = {(e.action, e.result, e.reason) for _, e in events}
    assert ("client.authenticate", "failure", "bad_secret") in seen
    assert ("token.issue", "failure", "invalid_scope") in seen
    for _, event in events:
        if event.action in ("client.create",):
            continue
        assert event.source_ip == "127.0.0.1"
        assert event.request_id


def _query(client_id: str):  # type: ignore[no-untyped-def]
    from tessera.domain.audit import AuditQuery

    return AuditQuery(tenant_id="default", client_id=client_id)
