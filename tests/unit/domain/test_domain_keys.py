"""Signing keys: sealing under the KEK, the rotation rules, the key ring and the published JWKS."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from joserfc import jwt as jose_jwt
from joserfc.jwk import ECKey, KeySet, OKPKey, RSAKey

from tessera.domain.jws import ALGORITHMS, split_compact, verify_signature
from tessera.domain.keys import (
    KEK_BYTES,
    KeyChanges,
    KeyEncryptionKey,
    KeyRing,
    KeyState,
    Signer,
    StoredKey,
    generate_private_key,
    new_stored_key,
    plan_bootstrap,
    plan_expiry,
    plan_rotation,
    public_jwk,
    unseal_private_key,
)
from tessera.domain.tokens import verify_jwt
from tessera.errors import KeyEncryptionKeyError

pytestmark = pytest.mark.unit

VECTORS = Path(__file__).parents[2] / "vectors"
RFC7638: dict[str, Any] = json.loads((VECTORS / "jwk_rfc7638.json").read_text(encoding="utf-8"))
RFC8037: dict[str, Any] = json.loads((VECTORS / "jws_rfc8037.json").read_text(encoding="utf-8"))
RFC7515: dict[str, Any] = json.loads((VECTORS / "jws_rfc7515.json").read_text(encoding="utf-8"))

KEK = KeyEncryptionKey(bytes(range(32)))
OTHER_KEK = KeyEncryptionKey(bytes(range(1, 33)))
T0 = 1_750_000_000.0
LIFETIME = 3600.0
TENANT = "acme"
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def _apply(keys: Sequence[StoredKey], changes: KeyChanges) -> list[StoredKey]:
    """What a store does with a plan: delete, replace by kid, add."""
    deleted = {k.kid for k in changes.deleted}
    updated = {k.kid: k for k in changes.updated}
    kept = [updated.get(k.kid, k) for k in keys if k.kid not in deleted]
    return [*kept, *changes.added]


def _by_state(keys: Sequence[StoredKey], state: KeyState) -> list[StoredKey]:
    return [k for k in keys if k.state == state]


def _bootstrapped(alg: str = "ES256", now: float = T0) -> list[StoredKey]:
    return _apply([], plan_bootstrap(TENANT, [], alg, KEK, now))


def _jwks_kids(ring: KeyRing) -> list[str]:
    return [k["kid"] for k in json.loads(ring.jwks_json)["keys"]]


def _import_jwk(jwk: dict[str, Any]) -> ECKey | RSAKey | OKPKey:
    if jwk["kty"] == "EC":
        return ECKey.import_key(jwk)
    if jwk["kty"] == "RSA":
        return RSAKey.import_key(jwk)
    return OKPKey.import_key(jwk)


# The key-encryption key ---------------------------------------------------------------------------
def test_kek_seal_open_round_trip() -> None:
    sealed = KEK.seal(b"private key bytes", "ctx")
    assert KEK.open(sealed, "ctx") == b"private key bytes"
    assert b"private key bytes" not in sealed


def test_kek_sealing_is_randomised() -> None:
    assert KEK.seal(b"x", "ctx") != KEK.seal(b"x", "ctx")


def test_open_with_another_kek_names_both_problem_and_kek_id() -> None:
    sealed = KEK.seal(b"secret", "tessera signing key acme/kid1")
    with pytest.raises(KeyEncryptionKeyError) as caught:
        OTHER_KEK.open(sealed, "tessera signing key acme/kid1")
    message = str(caught.value)
    assert "tessera signing key acme/kid1" in message
    assert OTHER_KEK.kek_id in message
    assert "not the one it was sealed with" in message
    assert caught.value.__cause__ is None  # the InvalidTag is suppressed, the message says it all


@pytest.mark.parametrize(
    "sealed", [b"", b"short", bytes(12), bytes(28)], ids=["empty", "short", "nonce-only", "no-ciphertext"]
)
def test_open_garbage_raises_the_kek_error(sealed: bytes) -> None:
    with pytest.raises(KeyEncryptionKeyError):
        KEK.open(sealed, "ctx")


def test_open_with_another_context_fails() -> None:
    """The context (tenant and kid) is authenticated: a sealed key cannot be moved to another tenant."""
    sealed = KEK.seal(b"secret", "tessera signing key acme/kid1")
    with pytest.raises(KeyEncryptionKeyError):
        KEK.open(sealed, "tessera signing key evil/kid1")


def test_tampered_ciphertext_fails() -> None:
    sealed = bytearray(KEK.seal(b"secret", "ctx"))
    sealed[-1] ^= 1
    with pytest.raises(KeyEncryptionKeyError):
        KEK.open(bytes(sealed), "ctx")


@pytest.mark.parametrize("length", [0, 1, 16, 24, 31, 33, 64])
def test_kek_must_be_32_bytes(length: int) -> None:
    with pytest.raises(KeyEncryptionKeyError, match=f"must be {KEK_BYTES} bytes, got {length}"):
        KeyEncryptionKey(bytes(length))


def test_kek_id_is_stable_short_and_distinct() -> None:
    assert KeyEncryptionKey(bytes(range(32))).kek_id == KEK.kek_id
    assert KEK.kek_id != OTHER_KEK.kek_id
    assert len(KEK.kek_id) == 16
    int(KEK.kek_id, 16)


def test_kek_repr_hides_the_key() -> None:
    assert repr(KEK) == f"KeyEncryptionKey(kek_id={KEK.kek_id!r})"
    assert bytes(range(32)).hex() not in repr(KEK)


# Stored keys and their JWK ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def rsa_stored() -> StoredKey:
    return new_stored_key(TENANT, "RS256", KEK, T0, KeyState.ACTIVE)


@pytest.mark.parametrize("alg", ["ES256", "EdDSA"])
def test_new_stored_key_seals_a_key_that_unseals(alg: str) -> None:
    stored = new_stored_key(TENANT, alg, KEK, T0)
    assert stored.state == KeyState.NEXT
    assert stored.activated_at is None
    assert stored.created_at == T0
    assert stored.kek_id == KEK.kek_id
    assert stored.alg == alg == stored.public_jwk["alg"]
    assert stored.kid == stored.public_jwk["kid"]
    private = unseal_private_key(stored, KEK)
    assert public_jwk(private, alg) == stored.public_jwk


def test_new_rsa_stored_key(rsa_stored: StoredKey) -> None:
    assert rsa_stored.state == KeyState.ACTIVE
    assert rsa_stored.activated_at == T0
    private = unseal_private_key(rsa_stored, KEK)
    assert isinstance(private, rsa.RSAPrivateKey)
    assert private.key_size == 2048
    assert public_jwk(private, "RS256") == rsa_stored.public_jwk


def test_unseal_with_the_wrong_kek_fails() -> None:
    stored = new_stored_key(TENANT, "ES256", KEK, T0)
    with pytest.raises(KeyEncryptionKeyError, match=stored.kid):
        unseal_private_key(stored, OTHER_KEK)


def test_a_sealed_key_is_bound_to_its_tenant_and_kid() -> None:
    stored = new_stored_key(TENANT, "ES256", KEK, T0)
    for moved in (replace(stored, tenant_id="evil"), replace(stored, kid="another-kid")):
        with pytest.raises(KeyEncryptionKeyError):
            unseal_private_key(moved, KEK)


@pytest.mark.parametrize(("alg", "kind"), [("ES256", ec.EllipticCurvePrivateKey), ("EdDSA", ed25519.Ed25519PrivateKey)])
def test_generate_private_key(alg: str, kind: type) -> None:
    key = generate_private_key(alg)
    assert isinstance(key, kind)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        assert isinstance(key.curve, ec.SECP256R1)


@pytest.mark.parametrize("alg", ["HS256", "none", "ES384", "PS256", ""])
def test_generate_refuses_other_algorithms(alg: str) -> None:
    with pytest.raises(ValueError, match="unsupported signing algorithm"):
        generate_private_key(alg)


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "RS256"])
def test_public_jwk_kid_is_the_rfc7638_thumbprint(alg: str, rsa_stored: StoredKey) -> None:
    private = unseal_private_key(rsa_stored, KEK) if alg == "RS256" else generate_private_key(alg)
    jwk = public_jwk(private, alg)
    assert not PRIVATE_MEMBERS & set(jwk)
    assert jwk["alg"] == alg
    assert jwk["use"] == "sig"
    imported = _import_jwk(jwk)
    assert jwk["kid"] == imported.thumbprint()
    assert public_jwk(private.public_key(), alg) == jwk  # the same from the public half


def test_rfc7638_example_key_thumbprint() -> None:
    """RFC 7638 §3.1: the published RSA key's thumbprint, through our public_jwk."""
    key = RSAKey.import_key(RFC7638["key"]).public_key
    assert isinstance(key, rsa.RSAPublicKey)
    assert public_jwk(key, "RS256")["kid"] == RFC7638["thumbprint"]


def test_rfc8037_example_key_thumbprint() -> None:
    """RFC 8037 A.3: the published Ed25519 key's thumbprint."""
    key = OKPKey.import_key(RFC8037["key"]).private_key
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    jwk = public_jwk(key, "EdDSA")
    assert jwk["kid"] == RFC8037["thumbprint"]
    assert jwk["x"] == RFC8037["key"]["x"]
    assert "d" not in jwk


def test_rfc7515_ec_key_thumbprint_agrees_with_joserfc() -> None:
    example = next(e for e in RFC7515["examples"] if e["alg"] == "ES256")
    key = ECKey.import_key(example["key"])
    assert key.private_key is not None
    jwk = public_jwk(key.private_key, "ES256")
    assert jwk["kid"] == key.thumbprint()
    assert (jwk["x"], jwk["y"], jwk["crv"]) == (example["key"]["x"], example["key"]["y"], "P-256")


# Bootstrap ----------------------------------------------------------------------------------------
def test_bootstrap_of_nothing_adds_an_active_and_a_next_key() -> None:
    changes = plan_bootstrap(TENANT, [], "ES256", KEK, T0)
    assert [k.state for k in changes.added] == [KeyState.ACTIVE, KeyState.NEXT]
    assert not changes.updated
    assert not changes.deleted
    active, nxt = changes.added
    assert active.activated_at == T0
    assert nxt.activated_at is None
    assert active.kid != nxt.kid
    assert {k.tenant_id for k in changes.added} == {TENANT}


def test_bootstrap_is_idempotent() -> None:
    keys = _bootstrapped()
    assert plan_bootstrap(TENANT, keys, "ES256", KEK, T0 + 10).is_empty()


def test_bootstrap_promotes_a_lone_next_key() -> None:
    lone = new_stored_key(TENANT, "ES256", KEK, T0 - 100)
    changes = plan_bootstrap(TENANT, [lone], "ES256", KEK, T0)
    assert [(k.kid, k.state, k.activated_at) for k in changes.updated] == [(lone.kid, KeyState.ACTIVE, T0)]
    assert [k.state for k in changes.added] == [KeyState.NEXT]
    keys = _apply([lone], changes)
    assert plan_bootstrap(TENANT, keys, "ES256", KEK, T0).is_empty()


def test_bootstrap_adds_a_next_key_to_a_lone_active_key() -> None:
    active = new_stored_key(TENANT, "ES256", KEK, T0, KeyState.ACTIVE)
    changes = plan_bootstrap(TENANT, [active], "ES256", KEK, T0)
    assert not changes.updated
    assert [k.state for k in changes.added] == [KeyState.NEXT]


def test_bootstrap_with_only_retired_keys_starts_over() -> None:
    retired = replace(new_stored_key(TENANT, "ES256", KEK, T0, KeyState.ACTIVE), state=KeyState.RETIRED)
    changes = plan_bootstrap(TENANT, [retired], "ES256", KEK, T0)
    assert [k.state for k in changes.added] == [KeyState.ACTIVE, KeyState.NEXT]


def test_bootstrap_uses_the_requested_algorithm() -> None:
    assert {k.alg for k in _bootstrapped("EdDSA")} == {"EdDSA"}


def test_key_changes_is_empty() -> None:
    assert KeyChanges().is_empty()
    assert not KeyChanges(added=[new_stored_key(TENANT, "ES256", KEK, T0)]).is_empty()


# Rotation -----------------------------------------------------------------------------------------
def test_rotation_retires_active_promotes_next_and_publishes_a_new_next() -> None:
    keys = _bootstrapped()
    (active,), (nxt,) = _by_state(keys, KeyState.ACTIVE), _by_state(keys, KeyState.NEXT)
    now = T0 + 500
    changes = plan_rotation(TENANT, keys, "ES256", KEK, now, LIFETIME)
    updated = {k.kid: k for k in changes.updated}
    assert updated[active.kid].state == KeyState.RETIRED
    assert updated[active.kid].retired_at == now
    assert updated[active.kid].publish_until == now + LIFETIME
    assert updated[nxt.kid].state == KeyState.ACTIVE
    assert updated[nxt.kid].activated_at == now
    assert [k.state for k in changes.added] == [KeyState.NEXT]
    assert changes.added[0].kid not in (active.kid, nxt.kid)
    assert not changes.deleted


def test_rotating_twice() -> None:
    keys = _bootstrapped()
    first_active = _by_state(keys, KeyState.ACTIVE)[0]
    keys = _apply(keys, plan_rotation(TENANT, keys, "ES256", KEK, T0 + 100, LIFETIME))
    second_active = _by_state(keys, KeyState.ACTIVE)[0]
    keys = _apply(keys, plan_rotation(TENANT, keys, "ES256", KEK, T0 + 200, LIFETIME))
    assert len(_by_state(keys, KeyState.ACTIVE)) == 1
    assert len(_by_state(keys, KeyState.NEXT)) == 1
    assert {k.kid for k in _by_state(keys, KeyState.RETIRED)} == {first_active.kid, second_active.kid}
    retired = {k.kid: k.publish_until for k in _by_state(keys, KeyState.RETIRED)}
    assert retired == {first_active.kid: T0 + 100 + LIFETIME, second_active.kid: T0 + 200 + LIFETIME}


def test_rotation_deletes_retired_keys_past_their_publication() -> None:
    keys = _bootstrapped()
    first_active = _by_state(keys, KeyState.ACTIVE)[0]
    keys = _apply(keys, plan_rotation(TENANT, keys, "ES256", KEK, T0, LIFETIME))
    later = plan_rotation(TENANT, keys, "ES256", KEK, T0 + LIFETIME, LIFETIME)
    assert [k.kid for k in later.deleted] == [first_active.kid]


def test_rotation_without_a_next_key_activates_a_new_key_at_once() -> None:
    active = new_stored_key(TENANT, "ES256", KEK, T0, KeyState.ACTIVE)
    changes = plan_rotation(TENANT, [active], "ES256", KEK, T0 + 1, LIFETIME)
    assert [k.state for k in changes.added] == [KeyState.ACTIVE, KeyState.NEXT]
    assert changes.added[0].activated_at == T0 + 1
    assert [k.state for k in changes.updated] == [KeyState.RETIRED]


def test_rotation_can_change_the_algorithm_of_new_keys() -> None:
    keys = _bootstrapped("ES256")
    changes = plan_rotation(TENANT, keys, "EdDSA", KEK, T0 + 1, LIFETIME)
    assert [k.alg for k in changes.added] == ["EdDSA"]


# Expiry -------------------------------------------------------------------------------------------
def _retired(publish_until: float | None) -> StoredKey:
    key = new_stored_key(TENANT, "ES256", KEK, T0, KeyState.ACTIVE)
    return replace(key, state=KeyState.RETIRED, retired_at=T0, publish_until=publish_until)


def test_retired_key_is_kept_until_publish_until() -> None:
    key = _retired(T0 + LIFETIME)
    assert not plan_expiry([key], T0).deleted
    assert not plan_expiry([key], T0 + LIFETIME - 0.001).deleted
    assert plan_expiry([key], T0 + LIFETIME).deleted == [key]
    assert plan_expiry([key], T0 + LIFETIME + 1).deleted == [key]


def test_retired_key_without_publish_until_is_not_published() -> None:
    key = _retired(None)
    assert not key.is_published(T0)
    assert plan_expiry([key], T0).deleted == [key]


def test_active_and_next_keys_never_expire() -> None:
    keys = _bootstrapped()
    assert plan_expiry(keys, T0 + 10**9).is_empty()
    assert all(k.is_published(T0 + 10**9) for k in keys)


# The key ring -------------------------------------------------------------------------------------
def test_ring_signs_with_the_active_key_and_publishes_active_then_next() -> None:
    keys = _bootstrapped()
    (active,), (nxt,) = _by_state(keys, KeyState.ACTIVE), _by_state(keys, KeyState.NEXT)
    ring = KeyRing.build(keys, KEK, T0)
    assert (ring.signer.kid, ring.signer.alg) == (active.kid, "ES256")
    assert _jwks_kids(ring) == [active.kid, nxt.kid]
    assert set(ring.verification_keys) == {active.kid, nxt.kid}


def test_jwks_is_public_compact_json_that_libraries_import() -> None:
    ring = KeyRing.build(_bootstrapped("EdDSA"), KEK, T0)
    assert b" " not in ring.jwks_json
    document = json.loads(ring.jwks_json)
    for jwk in document["keys"]:
        assert not PRIVATE_MEMBERS & set(jwk)
        assert jwk["use"] == "sig"
    assert len(KeySet.import_key_set(document).keys) == 2


def test_jwks_lists_retired_keys_while_published_and_drops_them_after() -> None:
    keys = _bootstrapped()
    old = _by_state(keys, KeyState.ACTIVE)[0]
    keys = _apply(keys, plan_rotation(TENANT, keys, "ES256", KEK, T0, LIFETIME))
    new_active, new_next = _by_state(keys, KeyState.ACTIVE)[0], _by_state(keys, KeyState.NEXT)[0]
    during = KeyRing.build(keys, KEK, T0 + LIFETIME - 1)
    assert _jwks_kids(during) == [new_active.kid, new_next.kid, old.kid]
    after = KeyRing.build(keys, KEK, T0 + LIFETIME)
    assert _jwks_kids(after) == [new_active.kid, new_next.kid]
    assert old.kid not in after.verification_keys


def test_token_signed_before_rotation_verifies_after_it_until_expiry() -> None:
    keys = _bootstrapped()
    before = KeyRing.build(keys, KEK, T0)
    token = before.signer.sign({"sub": "svc", "exp": T0 + LIFETIME}, "at+jwt")

    keys = _apply(keys, plan_rotation(TENANT, keys, "ES256", KEK, T0 + 1, LIFETIME))
    after = KeyRing.build(keys, KEK, T0 + 2)
    assert after.signer.kid != before.signer.kid
    assert verify_jwt(after, token, T0 + 2, 0.0, "at+jwt") == {"sub": "svc", "exp": T0 + LIFETIME}

    keys = _apply(keys, plan_expiry(keys, T0 + 1 + LIFETIME))
    expired = KeyRing.build(keys, KEK, T0 + 1 + LIFETIME)
    assert before.signer.kid not in expired.verification_keys
    assert verify_jwt(expired, token, T0 + 1 + LIFETIME, 60.0, "at+jwt") is None
    # even judged at a time when the token was still valid, it no longer verifies: its key is gone
    assert verify_jwt(expired, token, T0, 0.0, "at+jwt") is None


def test_token_signed_by_the_new_active_key_after_rotation_verifies_with_the_old_ring() -> None:
    """The next key is published before it signs, so rings (and JWKS caches) built earlier verify it."""
    keys = _bootstrapped()
    old_ring = KeyRing.build(keys, KEK, T0)
    keys = _apply(keys, plan_rotation(TENANT, keys, "ES256", KEK, T0 + 1, LIFETIME))
    new_ring = KeyRing.build(keys, KEK, T0 + 1)
    token = new_ring.signer.sign({"sub": "svc", "exp": T0 + 100}, "at+jwt")
    assert verify_jwt(old_ring, token, T0 + 2, 0.0, "at+jwt") is not None


def test_ring_without_an_active_key_refuses_to_build() -> None:
    nxt = new_stored_key(TENANT, "ES256", KEK, T0)
    with pytest.raises(KeyEncryptionKeyError, match="no active signing key"):
        KeyRing.build([nxt], KEK, T0)
    with pytest.raises(KeyEncryptionKeyError):
        KeyRing.build([], KEK, T0)


def test_ring_with_the_wrong_kek_refuses_to_build() -> None:
    with pytest.raises(KeyEncryptionKeyError, match=OTHER_KEK.kek_id):
        KeyRing.build(_bootstrapped(), OTHER_KEK, T0)


def test_ring_signs_with_the_most_recently_activated_key() -> None:
    older = new_stored_key(TENANT, "ES256", KEK, T0, KeyState.ACTIVE)
    newer = replace(new_stored_key(TENANT, "ES256", KEK, T0, KeyState.ACTIVE), activated_at=T0 + 5)
    for order in ([older, newer], [newer, older]):
        assert KeyRing.build(order, KEK, T0 + 10).signer.kid == newer.kid


@pytest.mark.parametrize("alg", ["ES256", "EdDSA"])
def test_ring_signer_output_verifies_with_its_verification_keys(alg: str) -> None:
    ring = KeyRing.build(_bootstrapped(alg), KEK, T0)
    header, claims, signing_input, signature = split_compact(ring.signer.sign({"a": 1}))
    assert header == {"alg": alg, "kid": ring.signer.kid, "typ": "JWT"}
    assert claims == {"a": 1}
    key_alg, public = ring.verification_keys[ring.signer.kid]
    assert key_alg == alg
    assert verify_signature(signing_input, signature, alg, public)


@pytest.mark.filterwarnings("ignore:EdDSA is deprecated:joserfc.errors.SecurityWarning")
@pytest.mark.parametrize("alg", ["ES256", "EdDSA"])
def test_joserfc_verifies_ring_tokens_with_the_published_jwks(alg: str) -> None:
    ring = KeyRing.build(_bootstrapped(alg), KEK, T0)
    token = ring.signer.sign({"sub": "svc"}, "at+jwt")
    keyset = KeySet.import_key_set(json.loads(ring.jwks_json))
    assert dict(jose_jwt.decode(token, keyset, algorithms=[alg]).claims) == {"sub": "svc"}


def test_ring_with_an_rsa_key(rsa_stored: StoredKey) -> None:
    nxt = new_stored_key(TENANT, "ES256", KEK, T0)
    ring = KeyRing.build([rsa_stored, nxt], KEK, T0)
    assert ring.signer.alg == "RS256"
    token = ring.signer.sign({"sub": "svc", "exp": T0 + 1})
    assert verify_jwt(ring, token, T0, 0.0, None) == {"sub": "svc", "exp": T0 + 1}
    assert ring.verification_keys[nxt.kid][0] == "ES256"


def test_signer_encodes_one_header_per_typ() -> None:
    private = generate_private_key("ES256")
    signer = Signer("kid-1", "ES256", private)
    at = split_compact(signer.sign({"x": 1}, "at+jwt"))[0]
    idt = split_compact(signer.sign({"x": 1}))[0]
    assert at == {"alg": "ES256", "kid": "kid-1", "typ": "at+jwt"}
    assert idt == {"alg": "ES256", "kid": "kid-1", "typ": "JWT"}
    assert signer.sign({"x": 1}, "at+jwt").split(".")[0] == signer.sign({"y": 2}, "at+jwt").split(".")[0]


def test_every_algorithm_can_be_bootstrapped() -> None:
    for alg in ALGORITHMS:
        if alg == "RS256":
            continue  # covered with the module's one RSA key
        keys = _bootstrapped(alg)
        assert {k.alg for k in keys} == {alg}
        assert KeyRing.build(keys, KEK, T0).signer.alg == alg
