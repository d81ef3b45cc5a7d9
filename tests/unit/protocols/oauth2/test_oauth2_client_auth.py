"""Client authentication: RFC 6749 §2.3 (one method), §2.3.1 (secrets), RFC 7523 and OIDC Core §9 (private_key_jwt)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any
from urllib.parse import quote_plus, urlencode

import pytest
from joserfc import jwt as jose_jwt
from joserfc.jwk import ECKey, OKPKey, RSAKey

from tessera.domain.audit import AuditEvent, AuditNotes, AuditTrail
from tessera.domain.clients import Client, hash_secret
from tessera.domain.jws import b64url
from tessera.ids import new_id
from tessera.protocols.oauth2 import client_auth
from tessera.protocols.oauth2.client_auth import (
    JWT_BEARER_ASSERTION,
    AssertionPolicy,
    ClientAuthentication,
    ClientAuthenticator,
    authenticate_client,
    extract_client_authentication,
)
from tessera.protocols.oauth2.errors import InvalidClient, InvalidRequest
from tessera.protocols.oauth2.requests import FormParams, parse_form
from tessera.secret import Secret
from tessera.settings import ClientConfig

pytestmark = pytest.mark.unit

TENANT = "acme"
NOW = 1_750_000_000.0
TOKEN_URL = "https://sts.example/t/acme/oauth2/token"
ISSUER = "https://sts.example/t/acme"
POLICY = AssertionPolicy(frozenset({TOKEN_URL, ISSUER}), max_lifetime=300.0, clock_skew=30.0)
SECRET = "s3cret:with+odd%chars é"


# Keys, clients, fakes -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def es_key() -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": "es-1"})


@pytest.fixture(scope="module")
def rs_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "rs-1"})


@pytest.fixture(scope="module")
def stranger_key() -> ECKey:
    """Not in any client's JWKS; same kid as the real key, to be sure kid alone proves nothing."""
    return ECKey.generate_key("P-256", parameters={"kid": "es-1"})


class Clients:
    def __init__(self, *clients: Client) -> None:
        self.rows = {(c.tenant_id, c.client_id): c for c in clients}
        self.asked: list[tuple[str, str]] = []

    async def client(self, tenant_id: str, client_id: str) -> Client | None:
        self.asked.append((tenant_id, client_id))
        return self.rows.get((tenant_id, client_id))


class Replays:
    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], float] = {}

    async def remember(self, tenant_id: str, key: str, expires_at: float) -> bool:
        if (tenant_id, key) in self.seen:
            return False
        self.seen[(tenant_id, key)] = expires_at
        return True


class NullSink:
    async def append(self, events: Any) -> None:
        raise AssertionError("notes are not flushed in these tests")


def _secret_client(client_id: str = "svc", **spec: Any) -> Client:
    config = ClientConfig(client_id=client_id, **spec)
    return Client(TENANT, config, secret_hash=hash_secret(Secret(SECRET)))


@pytest.fixture
def clients(es_key: ECKey, rs_key: RSAKey) -> Clients:
    jwks = {"keys": [es_key.as_dict(private=False), rs_key.as_dict(private=False)]}
    return Clients(
        _secret_client(),
        _secret_client("post-only", auth_methods=["client_secret_post"]),
        _secret_client("off", disabled=True),
        Client(TENANT, ClientConfig(client_id="jwt", auth_methods=["private_key_jwt"], jwks=jwks)),
        Client(TENANT, ClientConfig(client_id="spa", type="public", auth_methods=["none"], grant_types=[])),
    )


@pytest.fixture
def replays() -> Replays:
    return Replays()


def _basic(client_id: str, secret: str) -> str:
    """RFC 6749 §2.3.1: form-urlencode each part, join with ':', base64."""
    pair = f"{quote_plus(client_id)}:{quote_plus(secret)}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def _raw_basic(credentials: bytes) -> str:
    return "Basic " + base64.b64encode(credentials).decode()


def _form(**fields: str) -> FormParams:
    return parse_form(urlencode(fields).encode())


def _claims(**overrides: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": "jwt",
        "sub": "jwt",
        "aud": TOKEN_URL,
        "exp": int(NOW) + 60,
        "iat": int(NOW),
        "jti": new_id(),
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _assertion(key: ECKey | RSAKey | OKPKey, alg: str = "ES256", **overrides: Any) -> str:
    header = {"alg": alg, "kid": key.kid}
    return jose_jwt.encode(header, _claims(**overrides), key, algorithms=[alg])


def _assertion_form(assertion: str, **extra: str) -> FormParams:
    return _form(client_assertion_type=JWT_BEARER_ASSERTION, client_assertion=assertion, **extra)


async def _authenticate(
    auth: ClientAuthentication, clients: Clients, replays: Replays, now: float = NOW, policy: AssertionPolicy = POLICY
) -> Client:
    return await authenticate_client(auth, TENANT, clients, replays.remember, policy, now)


async def _reason(auth: ClientAuthentication, clients: Clients, replays: Replays, **kwargs: Any) -> str:
    with pytest.raises(InvalidClient) as caught:
        await _authenticate(auth, clients, replays, **kwargs)
    assert caught.value.status == 401
    assert caught.value.description == "client authentication failed"  # the same for every reason
    return caught.value.reason


# Extraction: client_secret_basic ------------------------------------------------------------------
def test_basic() -> None:
    auth = extract_client_authentication(_basic("svc", "s3cret"), _form(grant_type="client_credentials"))
    assert auth.method == "client_secret_basic"
    assert auth.client_id == "svc"
    assert auth.secret is not None
    assert auth.secret.reveal() == "s3cret"
    assert auth.assertion is None


@pytest.mark.parametrize(
    ("client_id", "secret"),
    [
        ("svc", "a:b"),  # sent as %3A
        ("svc", "a+b"),  # sent as %2B
        ("svc", "a b"),  # sent as '+'
        ("svc", "100%"),
        ("my client", "p@ss/wörd=&?"),
        ("svc", SECRET),
        ("svc", ""),
    ],
)
def test_basic_credentials_are_form_urlencoded(client_id: str, secret: str) -> None:
    auth = extract_client_authentication(_basic(client_id, secret), _form())
    assert auth.client_id == client_id
    assert auth.secret is not None
    assert auth.secret.reveal() == secret


def test_basic_raw_colon_in_secret_splits_at_the_first_colon() -> None:
    auth = extract_client_authentication(_raw_basic(b"svc:a:b:c"), _form())
    assert (auth.client_id, auth.secret.reveal() if auth.secret else None) == ("svc", "a:b:c")


def test_basic_raw_plus_means_space() -> None:
    """A client that does not form-encode a '+' in its secret sends a space (RFC 6749 Appendix B)."""
    auth = extract_client_authentication(_raw_basic(b"svc:a+b"), _form())
    assert auth.secret is not None
    assert auth.secret.reveal() == "a b"


@pytest.mark.parametrize("scheme", ["Basic", "basic", "BASIC"])
def test_basic_scheme_is_case_insensitive(scheme: str) -> None:
    header = _basic("svc", "x").replace("Basic", scheme, 1)
    assert extract_client_authentication(header, _form()).method == "client_secret_basic"


@pytest.mark.parametrize(
    "header",
    [
        "Basic",
        "Basic ",
        "Basic !!!!",
        "Basic c3Zj",  # "svc": no colon
        "Basic OnNlY3JldA==",  # ":secret": no client id
        "Basic c3ZjOnM=x",  # junk after the padding
        "Basic " + base64.b64encode(b"svc:\xff\xfe").decode(),  # not UTF-8
        "Basic " + base64.b64encode(b"svc:%FF").decode(),  # not UTF-8 after percent-decoding
        "Basic " + base64.b64encode(b"%C3:x").decode(),
        "Basic c3ZjOnNlY3JldA",  # missing padding
        "Basic c3ZjO\u00e9",
    ],
)
def test_malformed_basic_credentials(header: str) -> None:
    with pytest.raises(InvalidClient) as caught:
        extract_client_authentication(header, _form())
    assert caught.value.reason == "malformed_credentials"
    assert caught.value.status == 401


def test_other_authorization_schemes_are_ignored() -> None:
    assert extract_client_authentication("Bearer abc", _form(client_id="spa")).method == "none"
    with pytest.raises(InvalidClient) as caught:
        extract_client_authentication("Bearer abc", _form())
    assert caught.value.reason == "no_credentials"


def test_basic_with_a_matching_client_id_parameter() -> None:
    auth = extract_client_authentication(_basic("svc", "x"), _form(client_id="svc"))
    assert auth.client_id == "svc"


def test_basic_with_another_client_id_parameter_is_invalid_request() -> None:
    with pytest.raises(InvalidRequest, match="does not match"):
        extract_client_authentication(_basic("svc", "x"), _form(client_id="other"))


# Extraction: client_secret_post, assertions, none -------------------------------------------------
def test_client_secret_post() -> None:
    auth = extract_client_authentication(None, _form(client_id="svc", client_secret=SECRET))
    assert auth.method == "client_secret_post"
    assert auth.client_id == "svc"
    assert auth.secret is not None
    assert auth.secret.reveal() == SECRET


def test_client_secret_without_client_id_is_invalid_request() -> None:
    with pytest.raises(InvalidRequest, match="without client_id"):
        extract_client_authentication(None, _form(client_secret="x"))


def test_private_key_jwt_reads_the_client_id_from_sub(es_key: ECKey) -> None:
    assertion = _assertion(es_key)
    auth = extract_client_authentication(None, _assertion_form(assertion))
    assert auth.method == "private_key_jwt"
    assert auth.client_id == "jwt"
    assert auth.assertion is not None
    assert auth.assertion.reveal() == assertion
    assert auth.secret is None


def test_private_key_jwt_with_a_matching_client_id(es_key: ECKey) -> None:
    assert extract_client_authentication(None, _assertion_form(_assertion(es_key), client_id="jwt")).client_id == "jwt"


def test_private_key_jwt_with_another_client_id_is_invalid_request(es_key: ECKey) -> None:
    with pytest.raises(InvalidRequest, match="does not match"):
        extract_client_authentication(None, _assertion_form(_assertion(es_key), client_id="svc"))


@pytest.mark.parametrize(
    "fields",
    [
        {"client_assertion": "a.b.c"},  # no type
        {"client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:saml2-bearer", "client_assertion": "x"},
        {"client_assertion_type": JWT_BEARER_ASSERTION},  # no assertion
    ],
)
def test_incomplete_assertions_are_invalid_request(fields: dict[str, str]) -> None:
    with pytest.raises(InvalidRequest):
        extract_client_authentication(None, _form(**fields))


@pytest.mark.parametrize(
    "assertion",
    [
        "not-a-jwt",
        "a.b",
        "é.é.é",
        b64url(b'{"alg":"ES256"}').decode() + "." + b64url(b'{"iss":"jwt"}').decode() + ".c2ln",  # no sub
        b64url(b'{"alg":"ES256"}').decode() + "." + b64url(b'{"sub":""}').decode() + ".c2ln",
        b64url(b'{"alg":"ES256"}').decode() + "." + b64url(b'{"sub":42}').decode() + ".c2ln",
    ],
)
def test_unreadable_assertions_are_bad_assertion(assertion: str) -> None:
    with pytest.raises(InvalidClient) as caught:
        extract_client_authentication(None, _assertion_form(assertion))
    assert caught.value.reason == "bad_assertion"


def test_client_id_alone_is_method_none() -> None:
    auth = extract_client_authentication(None, _form(client_id="spa"))
    assert auth == ClientAuthentication("none", "spa")


def test_no_credentials_at_all() -> None:
    with pytest.raises(InvalidClient) as caught:
        extract_client_authentication(None, _form(grant_type="client_credentials"))
    assert caught.value.reason == "no_credentials"
    assert caught.value.status == 401


def test_two_methods_are_invalid_request(es_key: ECKey) -> None:
    """RFC 6749 §2.3: a client MUST NOT use more than one authentication method in each request."""
    assertion = _assertion(es_key)
    cases = [
        (_basic("svc", "x"), _form(client_id="svc", client_secret="x")),
        (_basic("jwt", "x"), _assertion_form(assertion)),
        (None, _assertion_form(assertion, client_id="jwt", client_secret="x")),
    ]
    for authorization, form in cases:
        with pytest.raises(InvalidRequest, match="more than one"):
            extract_client_authentication(authorization, form)


# authenticate_client with secrets -----------------------------------------------------------------
async def test_basic_and_post_authenticate(clients: Clients, replays: Replays) -> None:
    basic = extract_client_authentication(_basic("svc", SECRET), _form())
    assert (await _authenticate(basic, clients, replays)).client_id == "svc"
    post = extract_client_authentication(None, _form(client_id="svc", client_secret=SECRET))
    assert (await _authenticate(post, clients, replays)).client_id == "svc"
    assert clients.asked == [(TENANT, "svc"), (TENANT, "svc")]


async def test_unknown_client(clients: Clients, replays: Replays, monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[str] = []
    real = Client.has_secret

    def spy(self: Client, presented: Secret[str]) -> bool:
        checked.append(self.client_id)
        return real(self, presented)

    monkeypatch.setattr(Client, "has_secret", spy)
    auth = ClientAuthentication("client_secret_basic", "ghost", secret=Secret("x"))
    assert await _reason(auth, clients, replays) == "unknown_client"
    assert checked == ["unknown"]  # a placeholder is hashed: the same work as a wrong secret


async def test_unknown_client_of_another_tenant(clients: Clients, replays: Replays) -> None:
    auth = ClientAuthentication("client_secret_basic", "svc", secret=Secret(SECRET))
    with pytest.raises(InvalidClient) as caught:
        await authenticate_client(auth, "other-tenant", clients, replays.remember, POLICY, NOW)
    assert caught.value.reason == "unknown_client"


async def test_disabled_client(clients: Clients, replays: Replays) -> None:
    auth = ClientAuthentication("client_secret_basic", "off", secret=Secret(SECRET))
    assert await _reason(auth, clients, replays) == "disabled"


@pytest.mark.parametrize(
    ("client_id", "method"),
    [
        ("post-only", "client_secret_basic"),
        ("svc", "private_key_jwt"),
        ("svc", "none"),
        ("jwt", "client_secret_post"),
        ("spa", "client_secret_basic"),
    ],
)
async def test_method_not_allowed(clients: Clients, replays: Replays, client_id: str, method: str) -> None:
    auth = ClientAuthentication(method, client_id, secret=Secret(SECRET), assertion=Secret("a.b.c"))
    assert await _reason(auth, clients, replays) == "method_not_allowed"


@pytest.mark.parametrize("secret", ["wrong", "", SECRET + " ", SECRET.upper()])
async def test_bad_secret(clients: Clients, replays: Replays, secret: str) -> None:
    auth = ClientAuthentication("client_secret_basic", "svc", secret=Secret(secret))
    assert await _reason(auth, clients, replays) == "bad_secret"


async def test_public_client_with_method_none(clients: Clients, replays: Replays) -> None:
    assert (await _authenticate(ClientAuthentication("none", "spa"), clients, replays)).client_id == "spa"


# authenticate_client with private_key_jwt ---------------------------------------------------------
@pytest.mark.parametrize("alg", ["ES256", "RS256", "PS256"])
async def test_private_key_jwt_happy_path(
    clients: Clients, replays: Replays, es_key: ECKey, rs_key: RSAKey, alg: str
) -> None:
    key = es_key if alg.startswith("ES") else rs_key
    assertion = _assertion(key, alg, jti="jti-1")
    auth = extract_client_authentication(None, _assertion_form(assertion))
    assert (await _authenticate(auth, clients, replays)).client_id == "jwt"
    # remembered per client, until the assertion could no longer be accepted: exp plus the skew
    assert replays.seen == {(TENANT, "jwt:jti-1"): int(NOW) + 60 + POLICY.clock_skew}


@pytest.mark.parametrize(
    "aud", [TOKEN_URL, ISSUER, [TOKEN_URL], ["https://other.example", ISSUER]], ids=["token", "iss", "list", "mixed"]
)
async def test_audience_may_be_the_token_endpoint_or_the_issuer(
    clients: Clients, replays: Replays, es_key: ECKey, aud: Any
) -> None:
    auth = extract_client_authentication(None, _assertion_form(_assertion(es_key, aud=aud)))
    assert (await _authenticate(auth, clients, replays)).client_id == "jwt"


async def _bad(clients: Clients, replays: Replays, assertion: str, now: float = NOW) -> InvalidClient:
    auth = ClientAuthentication("private_key_jwt", "jwt", assertion=Secret(assertion))
    with pytest.raises(InvalidClient) as caught:
        await _authenticate(auth, clients, replays, now=now)
    assert caught.value.description == "client authentication failed"
    return caught.value


@pytest.mark.parametrize(
    ("overrides", "why"),
    [
        ({"aud": "https://evil.example/token"}, "aud"),
        ({"aud": [TOKEN_URL + "/"]}, "aud"),
        ({"aud": None}, "aud"),
        ({"aud": 42}, "aud"),
        ({"exp": int(NOW) - 31}, "past exp"),
        ({"exp": int(NOW) - 30}, "past exp"),  # exp + skew == now
        ({"exp": None}, "exp"),
        ({"exp": "tomorrow"}, "exp"),
        ({"exp": int(NOW) + 300 + 30 + 1}, "too far"),  # longer than max_lifetime + skew
        ({"exp": int(NOW) + 86400}, "too far"),
        ({"nbf": int(NOW) + 31}, "not yet valid"),
        ({"iat": int(NOW) + 31}, "in the future"),
        ({"jti": None}, "jti"),
        ({"jti": ""}, "jti"),
        ({"jti": 7}, "jti"),
        ({"jti": "x" * 257}, "jti"),
        ({"iss": "svc"}, "iss and sub"),
        ({"iss": None}, "iss and sub"),
    ],
)
async def test_assertion_claims_are_checked(
    clients: Clients, replays: Replays, es_key: ECKey, overrides: dict[str, Any], why: str
) -> None:
    error = await _bad(clients, replays, _assertion(es_key, **overrides))
    assert error.reason == "bad_assertion"
    assert why in error.detail


async def test_limits_are_inclusive(clients: Clients, replays: Replays, es_key: ECKey) -> None:
    for overrides in (
        {"exp": int(NOW) - 29},  # expired, but within the skew
        {"exp": int(NOW) + 330},  # max_lifetime + skew
        {"nbf": int(NOW) + 30, "iat": int(NOW) + 30},
        {"jti": "x" * 256},
        {"iat": None},  # iat is optional
    ):
        auth = ClientAuthentication("private_key_jwt", "jwt", assertion=Secret(_assertion(es_key, **overrides)))
        assert (await _authenticate(auth, clients, replays)).client_id == "jwt"


async def test_iss_and_sub_must_both_be_the_client(clients: Clients, replays: Replays, es_key: ECKey) -> None:
    """sub picks the client; an assertion whose iss is someone else is refused even with a valid signature."""
    assertion = _assertion(es_key, iss="svc", sub="jwt")
    auth = extract_client_authentication(None, _assertion_form(assertion))
    assert auth.client_id == "jwt"
    assert (await _bad(clients, replays, assertion)).reason == "bad_assertion"


async def test_replayed_jti(clients: Clients, replays: Replays, es_key: ECKey) -> None:
    assertion = _assertion(es_key, jti="once")
    auth = ClientAuthentication("private_key_jwt", "jwt", assertion=Secret(assertion))
    await _authenticate(auth, clients, replays)
    assert (await _bad(clients, replays, assertion)).reason == "assertion_replayed"
    # a fresh assertion with the same jti is a replay too
    assert (await _bad(clients, replays, _assertion(es_key, jti="once", exp=int(NOW) + 61))).reason == (
        "assertion_replayed"
    )


async def test_replay_window_covers_the_clock_skew(clients: Clients, replays: Replays, es_key: ECKey) -> None:
    """The jti must be remembered for as long as the assertion is still accepted (exp + skew)."""
    exp = int(NOW) + 10
    assertion = _assertion(es_key, jti="late", exp=exp)
    auth = ClientAuthentication("private_key_jwt", "jwt", assertion=Secret(assertion))
    await _authenticate(auth, clients, replays)
    remembered_until = replays.seen[(TENANT, "jwt:late")]
    still_accepted_at = exp + POLICY.clock_skew - 1
    assert remembered_until > still_accepted_at
    # a store purging entries whose expires_at has passed keeps this one while the assertion is acceptable
    purged = {k: v for k, v in replays.seen.items() if v >= still_accepted_at}
    replays.seen = purged
    assert (await _bad(clients, replays, assertion, now=still_accepted_at)).reason == "assertion_replayed"


async def test_jti_is_scoped_to_the_client(es_key: ECKey, rs_key: RSAKey, replays: Replays) -> None:
    jwks = {"keys": [es_key.as_dict(private=False)]}
    clients = Clients(
        Client(TENANT, ClientConfig(client_id="jwt", auth_methods=["private_key_jwt"], jwks=jwks)),
        Client(TENANT, ClientConfig(client_id="jwt2", auth_methods=["private_key_jwt"], jwks=jwks)),
    )
    for client_id in ("jwt", "jwt2"):
        assertion = _assertion(es_key, iss=client_id, sub=client_id, jti="shared")
        auth = extract_client_authentication(None, _assertion_form(assertion))
        assert (await _authenticate(auth, clients, replays)).client_id == client_id


async def test_assertion_signed_by_another_key(clients: Clients, replays: Replays, stranger_key: ECKey) -> None:
    assert (await _bad(clients, replays, _assertion(stranger_key))).reason == "bad_assertion"


async def test_assertion_with_an_unknown_kid(clients: Clients, replays: Replays) -> None:
    unknown = ECKey.generate_key("P-256", parameters={"kid": "nobody"})
    assert (await _bad(clients, replays, _assertion(unknown))).reason == "bad_assertion"


async def test_tampered_assertion(clients: Clients, replays: Replays, es_key: ECKey) -> None:
    header, _, signature = _assertion(es_key).split(".")
    forged = b64url(json.dumps(_claims(exp=int(NOW) + 100)).encode()).decode()
    assert (await _bad(clients, replays, f"{header}.{forged}.{signature}")).reason == "bad_assertion"


@pytest.mark.parametrize("alg", ["none", "None"])
async def test_alg_none_assertion(clients: Clients, replays: Replays, es_key: ECKey, alg: str) -> None:
    header = b64url(json.dumps({"alg": alg, "kid": es_key.kid}).encode()).decode()
    payload = b64url(json.dumps(_claims()).encode()).decode()
    for signature in ("", _assertion(es_key).split(".")[2]):
        assert (await _bad(clients, replays, f"{header}.{payload}.{signature}")).reason == "bad_assertion"


@pytest.mark.parametrize("alg", ["HS256", "HS512"])
async def test_hmac_assertion_keyed_with_the_public_key(
    clients: Clients, replays: Replays, es_key: ECKey, rs_key: RSAKey, alg: str
) -> None:
    """Algorithm confusion: an HMAC whose secret is the client's published public key."""
    digest = {"HS256": hashlib.sha256, "HS512": hashlib.sha512}[alg]
    for key in (es_key, rs_key):
        for secret in (json.dumps(key.as_dict(private=False)).encode(), key.as_bytes(private=False)):
            header = b64url(json.dumps({"alg": alg, "kid": key.kid}).encode())
            signing_input = header + b"." + b64url(json.dumps(_claims()).encode())
            mac = b64url(hmac.new(secret, signing_input, digest).digest())
            assert (await _bad(clients, replays, (signing_input + b"." + mac).decode())).reason == "bad_assertion"


async def test_assertion_alg_must_match_the_key_type(clients: Clients, replays: Replays, rs_key: RSAKey) -> None:
    """An RSA signature presented under an EC key's kid."""
    header = b64url(json.dumps({"alg": "RS256", "kid": "es-1"}).encode())
    signing_input = header + b"." + b64url(json.dumps(_claims()).encode())
    genuine = _assertion(rs_key, "RS256").split(".")[2]
    assert (await _bad(clients, replays, signing_input.decode() + "." + genuine)).reason == "bad_assertion"


async def test_a_rejected_assertion_does_not_use_up_its_jti(clients: Clients, replays: Replays, es_key: ECKey) -> None:
    await _bad(clients, replays, _assertion(es_key, jti="j", aud="https://evil.example"))
    assert replays.seen == {}


async def test_client_with_unusable_jwks(replays: Replays, es_key: ECKey) -> None:
    spec = ClientConfig(client_id="jwt", auth_methods=["private_key_jwt"], jwks={"keys": [{"kty": "nope"}]})
    clients = Clients(Client(TENANT, spec))
    assert (await _bad(clients, replays, _assertion(es_key))).reason == "bad_assertion"


async def test_client_without_jwks(replays: Replays, es_key: ECKey) -> None:
    spec = ClientConfig.model_construct(client_id="jwt", auth_methods=["private_key_jwt"], jwks=None, disabled=False)
    clients = Clients(Client(TENANT, spec))
    assert (await _bad(clients, replays, _assertion(es_key))).reason == "no_client_keys"


def test_assertion_algorithms_exclude_none_and_hmac() -> None:
    assert not {a for a in client_auth.ASSERTION_ALGORITHMS if a.lower() == "none" or a.startswith("HS")}


# The authenticator notes every outcome ------------------------------------------------------------
def _notes() -> AuditNotes:
    return AuditNotes(AuditTrail(NullSink()), NOW, TENANT, "192.0.2.1", "req-1")


def _authenticator(clients: Clients, replays: Replays) -> ClientAuthenticator:
    return ClientAuthenticator(clients, replays.remember, POLICY.max_lifetime, POLICY.clock_skew)


def _only(notes: AuditNotes) -> AuditEvent:
    (event,) = notes.events
    assert event.action == "client.authenticate"
    return event


async def test_authenticator_notes_success(clients: Clients, replays: Replays) -> None:
    notes = _notes()
    client = await _authenticator(clients, replays).authenticate(
        TENANT, POLICY.audiences, _basic("svc", SECRET), _form(), notes, NOW
    )
    assert client.client_id == "svc"
    event = _only(notes)
    assert (event.result, event.client_id, event.actor) == ("success", "svc", "client:svc")
    assert event.details == {"method": "client_secret_basic"}


async def test_authenticator_notes_failure_with_reason(clients: Clients, replays: Replays) -> None:
    notes = _notes()
    with pytest.raises(InvalidClient):
        await _authenticator(clients, replays).authenticate(
            TENANT, POLICY.audiences, _basic("svc", "wrong"), _form(), notes, NOW
        )
    event = _only(notes)
    assert (event.result, event.reason, event.client_id) == ("failure", "bad_secret", "svc")
    assert event.details == {"method": "client_secret_basic"}
    assert "wrong" not in repr(event)


async def test_authenticator_notes_missing_credentials(clients: Clients, replays: Replays) -> None:
    notes = _notes()
    with pytest.raises(InvalidClient):
        await _authenticator(clients, replays).authenticate(TENANT, POLICY.audiences, None, _form(), notes, NOW)
    event = _only(notes)
    assert (event.result, event.reason, event.client_id, event.actor) == (
        "failure",
        "no_credentials",
        None,
        "anonymous",
    )


async def test_authenticator_prints_a_hostile_client_id_safely(clients: Clients, replays: Replays) -> None:
    notes = _notes()
    with pytest.raises(InvalidClient):
        await _authenticator(clients, replays).authenticate(
            TENANT, POLICY.audiences, _basic("é" * 300, "x"), _form(), notes, NOW
        )
    event = _only(notes)
    assert event.client_id is not None
    assert event.client_id.isascii()
    assert len(event.client_id) <= 128
    assert event.reason == "unknown_client"


async def test_authenticator_checks_assertions_against_the_given_audiences(
    clients: Clients, replays: Replays, es_key: ECKey
) -> None:
    notes = _notes()
    form = _assertion_form(_assertion(es_key, aud="https://sts.example/t/other/oauth2/token"))
    with pytest.raises(InvalidClient):
        await _authenticator(clients, replays).authenticate(TENANT, POLICY.audiences, None, form, notes, NOW)
    assert _only(notes).reason == "bad_assertion"
    notes = _notes()
    await _authenticator(clients, replays).authenticate(
        TENANT, frozenset({"https://sts.example/t/other/oauth2/token"}), None, form, notes, NOW
    )
    assert _only(notes).details == {"method": "private_key_jwt"}


async def test_invalid_request_is_raised_unnoted(clients: Clients, replays: Replays) -> None:
    notes = _notes()
    with pytest.raises(InvalidRequest):
        await _authenticator(clients, replays).authenticate(
            TENANT, POLICY.audiences, _basic("svc", "x"), _form(client_id="other"), notes, NOW
        )
    assert notes.events == ()
