"""OAuth clients: generated secrets, their hashes and the constant-time check."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import timedelta

import pytest

from tessera.domain import clients
from tessera.domain.clients import SECRET_BYTES, Client, generate_secret, hash_secret
from tessera.secret import Secret
from tessera.settings import ClientConfig

pytestmark = pytest.mark.unit

HASH = re.compile(r"sha256:[0-9a-f]{64}")


def _client(secret: str | None = "s3cret", **spec: object) -> Client:
    config = ClientConfig(client_id="svc", **spec)
    return Client("acme", config, secret_hash=hash_secret(Secret(secret)) if secret is not None else None)


def test_generated_secret_has_at_least_256_bits() -> None:
    assert SECRET_BYTES * 8 >= 256
    secret = generate_secret()
    assert isinstance(secret, Secret)
    value = secret.reveal()
    assert re.fullmatch(r"[A-Za-z0-9_-]+", value)
    raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    assert len(raw) == SECRET_BYTES


def test_generated_secrets_are_unique_and_every_bit_varies() -> None:
    values = [generate_secret().reveal() for _ in range(300)]
    assert len(set(values)) == len(values)
    raws = [int.from_bytes(base64.urlsafe_b64decode(v + "=" * (-len(v) % 4)), "big") for v in values]
    always_one = ~0
    always_zero = 0
    for raw in raws:
        always_one &= raw
        always_zero |= raw
    bits = SECRET_BYTES * 8
    assert always_one & ((1 << bits) - 1) == 0  # no bit is stuck at 1 ...
    assert always_zero == (1 << bits) - 1  # ... or at 0 (chance of a false failure: about 2^-290)


def test_generated_secret_is_not_in_its_repr() -> None:
    secret = generate_secret()
    assert secret.reveal() not in repr(secret)
    assert secret.reveal() not in f"{secret}"


def test_hash_format() -> None:
    digest = hash_secret(Secret("s3cret"))
    assert HASH.fullmatch(digest)
    assert digest == "sha256:" + hashlib.sha256(b"s3cret").hexdigest()
    ClientConfig(client_id="svc", secret_hash=digest)  # the configuration accepts what we produce


def test_hash_of_non_ascii_secret_is_utf8() -> None:
    assert hash_secret(Secret("pässwörd")) == "sha256:" + hashlib.sha256("pässwörd".encode()).hexdigest()


def test_has_secret() -> None:
    client = _client("s3cret")
    assert client.has_secret(Secret("s3cret"))
    assert not client.has_secret(Secret("s3cret "))
    assert not client.has_secret(Secret("S3cret"))
    assert not client.has_secret(Secret(""))


def test_has_secret_compares_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str]] = []
    real = hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)  # clients.py calls hmac.compare_digest
    client = _client("s3cret")
    assert not client.has_secret(Secret("wrong"))
    assert calls == [(hash_secret(Secret("wrong")), client.secret_hash)]


def test_client_without_a_secret_hash_still_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    hashed: list[str] = []
    real = clients.hash_secret

    def spy(secret: Secret[str]) -> str:
        hashed.append(secret.reveal())
        return real(secret)

    monkeypatch.setattr(clients, "hash_secret", spy)
    client = _client(None)
    assert not client.has_secret(Secret("anything"))
    assert hashed == ["anything"]  # the same work as a wrong secret


def test_empty_secret_hash_never_matches() -> None:
    client = Client("acme", ClientConfig(client_id="svc"), secret_hash="")
    assert not client.has_secret(Secret(""))


def test_client_attributes() -> None:
    confidential = _client(grant_types=["client_credentials"], auth_methods=["client_secret_post"])
    assert confidential.client_id == "svc"
    assert confidential.is_confidential
    assert confidential.is_enabled
    assert confidential.allows_grant("client_credentials")
    assert not confidential.allows_grant("authorization_code")
    assert confidential.allows_auth_method("client_secret_post")
    assert not confidential.allows_auth_method("client_secret_basic")
    assert not confidential.allows_auth_method("none")


def test_disabled_and_public_clients() -> None:
    assert not _client(disabled=True).is_enabled
    public = Client("acme", ClientConfig(client_id="spa", type="public", auth_methods=["none"], grant_types=[]))
    assert not public.is_confidential
    assert public.allows_auth_method("none")


def test_access_token_lifetime() -> None:
    assert _client().access_token_lifetime(600.0) == 600.0
    assert _client(access_token_lifetime=timedelta(minutes=2)).access_token_lifetime(600.0) == 120.0


def test_client_repr_does_not_contain_a_secret() -> None:
    secret = generate_secret()
    client = Client("acme", ClientConfig(client_id="svc"), secret_hash=hash_secret(secret))
    assert secret.reveal() not in repr(client)
