"""``tessera client ...`` on each backend: secrets shown once and stored as hashes, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_harness import Tessera, secret_of

from tessera.domain.clients import hash_secret
from tessera.secret import Secret

pytestmark = pytest.mark.protocol

SPA = "http://127.0.0.1:3000/callback"
JWKS = {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}


def stored_hash(tessera: Tessera, client_id: str) -> str | None:
    row = next(r for r in tessera.rows("clients") if r["client_id"] == client_id)
    return row["secret_hash"]  # type: ignore[no-any-return]


def test_create_prints_the_secret_once_and_stores_only_its_hash(tessera: Tessera) -> None:
    tessera.init()
    created = tessera.ok("client", "create", "billing", "--scope", "api:read", "--audience", "urn:billing")
    assert created.stdout.splitlines()[0] == "client_id=billing"
    secret = secret_of(created)
    assert len(secret) >= 43  # 256 bits, base64url
    assert "shown once" in created.stderr
    assert stored_hash(tessera, "billing") == hash_secret(Secret(secret))
    assert secret not in json.dumps(tessera.rows("clients"), default=str)
    shown = tessera.ok("client", "show", "billing").stdout
    view = json.loads(shown)
    assert (view["client_id"], view["scopes"], view["audiences"]) == ("billing", ["api:read"], ["urn:billing"])
    assert (view["has_secret"], view["managed_by"], view["tenant"]) == (True, "cli", "default")
    assert "secret_hash" not in view
    assert secret not in shown
    assert "sha256:" not in shown


def test_list_shows_origin_state_and_grants(tessera: Tessera) -> None:
    tessera.init()
    tessera.ok("client", "create", "spa", "--public", "--grant", "authorization_code", "--redirect-uri", SPA)
    assert tessera.ok("client", "list").stdout.splitlines() == [
        "demo\tconfidential\tenabled\tconfig\tclient_credentials",
        "demo-web\tconfidential\tenabled\tconfig\tauthorization_code,refresh_token",
        "spa\tpublic\tenabled\tcli\tauthorization_code",
    ]


def test_a_public_or_key_client_has_no_secret_to_rotate(tessera: Tessera, tmp_path: Path) -> None:
    tessera.init()
    public = tessera.ok("client", "create", "spa", "--public", "--grant", "authorization_code", "--redirect-uri", SPA)
    assert "client_secret" not in public.stdout
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(JWKS))
    keyed = tessera.ok("client", "create", "svc", "--auth-method", "private_key_jwt", "--jwks-file", str(jwks))
    assert "client_secret" not in keyed.stdout
    assert json.loads(tessera.ok("client", "show", "svc").stdout)["jwks"] == JWKS
    for client_id in ("spa", "svc"):
        assert "does not authenticate with a secret" in tessera.fails("client", "rotate-secret", client_id)


def test_rotate_disable_enable_delete(tessera: Tessera) -> None:
    tessera.init()
    first = secret_of(tessera.ok("client", "create", "app"))
    second = secret_of(tessera.ok("client", "rotate-secret", "app"))
    assert second != first
    assert stored_hash(tessera, "app") == hash_secret(Secret(second))
    assert tessera.ok("client", "disable", "app").stdout.strip() == "app disabled"
    assert "app\tconfidential\tdisabled\tcli" in tessera.ok("client", "list").stdout
    assert tessera.ok("client", "enable", "app").stdout.strip() == "app enabled"
    assert "app\tconfidential\tenabled\tcli" in tessera.ok("client", "list").stdout

    refused = tessera("client", "delete", "app", input="n\n")
    assert refused.exit_code == 1
    assert "delete client app of tenant default?" in refused.stderr
    assert "app\t" in tessera.ok("client", "list").stdout
    tessera.ok("client", "delete", "app", input="y\n")
    assert "app\t" not in tessera.ok("client", "list").stdout
    tessera.ok("client", "create", "app")
    assert tessera.ok("client", "delete", "app", "--yes").stdout.strip() == "app deleted"
    assert tessera.fails("client", "show", "app") == "no client 'app' in tenant 'default'"


def test_changing_a_declared_client_warns_that_apply_restores_it(tessera: Tessera) -> None:
    tessera.init()
    disabled = tessera.ok("client", "disable", "demo")
    assert "the next `tessera apply` or start restores demo" in disabled.stderr
    assert tessera.ok("apply").stdout.strip() == "~ client default/demo (disabled)"
    deleted = tessera.ok("client", "delete", "demo", "--yes")
    assert "restores demo" in deleted.stderr
    assert tessera.ok("apply").stdout.startswith("+ client default/demo\nnew client default/demo: client_secret=")


def test_errors_are_one_line(tessera: Tessera) -> None:
    tessera.init()
    tessera.ok("client", "create", "app")
    assert tessera.fails("client", "create", "app") == "client 'app' already exists in tenant 'default'"
    assert tessera.fails("client", "create", "x", "--tenant", "nope") == "no tenant 'nope'"
    assert tessera.fails("client", "list", "--tenant", "nope") == "no tenant 'nope'"
    for command in ("show", "rotate-secret", "disable", "enable"):
        assert tessera.fails("client", command, "ghost") == "no client 'ghost' in tenant 'default'"
    assert tessera.fails("client", "delete", "ghost", "--yes") == "no client 'ghost' in tenant 'default'"
    assert tessera.fails("client", "create", "bad id").startswith("invalid client: client_id: must be 1-128")
    assert tessera.fails("client", "create", "x", "--scope", "api:admin") == (
        "tenant 'default' does not offer scope(s) api:admin (it offers api:read, api:write)"
    )
    assert "private_key_jwt needs jwks" in tessera.fails("client", "create", "x", "--auth-method", "private_key_jwt")


def test_bad_options_are_usage_errors(tessera: Tessera, tmp_path: Path) -> None:
    tessera.init()
    short = tessera("client", "create", "x", "--lifetime", "5")
    assert short.exit_code == 2
    assert "--lifetime: must be between 30 and 86400 seconds" in short.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    assert "is not JSON" in tessera("client", "create", "x", "--jwks-file", str(bad)).stderr
    assert tessera("client", "create", "x", "--grant", "implicit").exit_code == 2


def test_a_lifetime_is_stored(tessera: Tessera) -> None:
    tessera.init()
    tessera.ok("client", "create", "app", "--lifetime", "120")
    assert json.loads(tessera.ok("client", "show", "app").stdout)["access_token_lifetime"] == "PT2M"


def test_hash_secret_gives_the_hash_a_declared_client_authenticates_with(tessera: Tessera) -> None:
    secret = "a-secret-that-is-long-enough-to-use-0123456789"
    digest = tessera.ok("client", "hash-secret", input=secret + "\n").stdout.strip()
    assert digest == hash_secret(Secret(secret))
    assert tessera.fails("client", "hash-secret", input="short\n") == "a client secret must be at least 32 characters"
    tessera.init()
    tessera.config.write_text(
        tessera.config.read_text() + f'\n[[tenants.clients]]\nclient_id = "declared"\nsecret_hash = "{digest}"\n'
    )
    assert tessera.ok("apply").stdout.strip() == "+ client default/declared"
    assert stored_hash(tessera, "declared") == digest
