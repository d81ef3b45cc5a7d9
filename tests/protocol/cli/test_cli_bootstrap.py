"""``tessera init``, ``migrate`` and ``apply`` against a temporary configuration, on each backend."""

from __future__ import annotations

import stat

import pytest
from cli_harness import OTHER_KEK, Tessera, secret_of

from tessera.cli.bootstrap import default_config_text
from tessera.domain.clients import hash_secret
from tessera.secret import Secret
from tessera.storage.migrate import head_revision

pytestmark = pytest.mark.protocol

NEW_CLIENT = """
[[tenants.clients]]
client_id = "reports"
scopes = ["api:read"]
"""


def test_init_writes_the_commented_default_a_private_kek_and_a_ready_store(tessera: Tessera) -> None:
    result = tessera.ok("init")
    text = tessera.config.read_text()
    assert text == default_config_text()
    assert sum(line.lstrip().startswith("#") for line in text.splitlines()) >= 10
    kek = tessera.home / ".tessera" / "kek"
    assert stat.S_IMODE(kek.stat().st_mode) == 0o600
    assert "+ tenant default" in result.stderr
    assert "+ client default/demo" in result.stderr
    demo = next(r for r in tessera.rows("clients") if r["client_id"] == "demo")
    assert demo["secret_hash"] == hash_secret(Secret(secret_of(result)))
    assert tessera.ok("keys", "list").stdout.count("ES256") == 2


def test_init_is_idempotent(tessera: Tessera) -> None:
    tessera.init()
    kek = (tessera.home / ".tessera" / "kek").read_text()
    tessera.edit_config('name = "Default"', 'name = "Mine"')
    before = tessera.snapshot()
    again = tessera.ok("init")
    assert "tessera.toml exists; keeping it" in again.stderr
    assert "client_secret" not in again.stdout
    assert (tessera.home / ".tessera" / "kek").read_text() == kek
    assert 'name = "Mine"' in tessera.config.read_text()  # the operator's file is kept...
    assert tessera.snapshot() != before  # ...and applied
    assert tessera.ok("apply").stdout.strip() == "no changes"
    tessera.ok("init", "--force")
    assert tessera.config.read_text() == default_config_text()


def test_migrate_upgrades_in_place_without_the_kek(tessera: Tessera) -> None:
    tessera.config.write_text('[[tenants]]\nid = "default"\n')
    assert tessera.ok("migrate").stdout.strip() == f"store at revision {head_revision()} (was empty)"
    assert tessera.ok("migrate").stdout.strip() == f"store at revision {head_revision()}"
    assert not (tessera.home / ".tessera" / "kek").exists()


def test_read_only_commands_do_not_migrate_and_say_what_to_do(tessera: Tessera) -> None:
    tessera.config.write_text('[[tenants]]\nid = "default"\n')
    env = {"TESSERA_KEYS__KEK": OTHER_KEK}
    message = f"the store is at revision none, the code needs {head_revision()}: run tessera migrate"
    assert tessera.fails("client", "list", env=env) == message
    assert tessera.fails("apply", "--dry-run", env=env) == message
    assert tessera.fails("audit", "tail") == message


def test_apply_dry_run_prints_the_difference_and_changes_nothing(tessera: Tessera) -> None:
    tessera.init()
    tessera.ok("client", "create", "manual")
    tessera.edit_config('default_scopes = ["api:read"]', 'default_scopes = ["api:write"]')
    tessera.config.write_text(tessera.config.read_text() + NEW_CLIENT)
    before = tessera.snapshot()
    dry = tessera.ok("apply", "--dry-run")
    assert dry.stdout.splitlines() == ["~ client default/demo (default_scopes)", "+ client default/reports"]
    assert "nothing was changed" in dry.stderr
    assert tessera.snapshot() == before
    applied = tessera.ok("apply")
    assert applied.stdout.splitlines()[:2] == dry.stdout.splitlines()
    assert "new client default/reports: client_secret=" in applied.stdout
    assert tessera.snapshot() != before
    assert tessera.ok("apply").stdout.strip() == "no changes"
    assert tessera.ok("apply", "--dry-run").stdout.strip() == "no changes"


def test_removing_a_declared_client_deletes_it_on_apply_but_cli_clients_stay(tessera: Tessera) -> None:
    tessera.init()
    tessera.ok("client", "create", "manual")
    text = tessera.config.read_text()
    tessera.config.write_text(text[: text.index("[[tenants.clients]]")])
    removed = tessera.ok("apply").stdout.splitlines()
    assert removed == ["- client default/demo", "- client default/demo-web", "- role default/MyRole"]
    assert [line.split("\t")[0] for line in tessera.ok("client", "list").stdout.splitlines()] == ["manual"]


def test_a_declared_client_takes_over_a_cli_client_with_the_same_id(tessera: Tessera) -> None:
    tessera.init()
    secret = secret_of(tessera.ok("client", "create", "reports", "--scope", "api:read", "--name", "By hand"))
    assert "reports\tconfidential\tenabled\tcli\t" in tessera.ok("client", "list").stdout
    tessera.config.write_text(tessera.config.read_text() + NEW_CLIENT)
    assert tessera.ok("apply").stdout.strip() == "~ client default/reports (name, managed)"
    assert "reports\tconfidential\tenabled\tconfig\t" in tessera.ok("client", "list").stdout
    row = next(r for r in tessera.rows("clients") if r["client_id"] == "reports")
    assert row["secret_hash"] == hash_secret(Secret(secret))  # its secret keeps working


def test_env_variables_override_the_file(tessera: Tessera) -> None:
    tessera.init()
    tessera.edit_config("port = 8000", "port = 99999")
    message = tessera.fails("apply")
    assert message == "invalid configuration: server.port: Input should be less than or equal to 65535"
    tessera.ok("apply", env={"TESSERA_SERVER__PORT": "9000"})
    other_store = f"sqlite+aiosqlite:///{tessera.home / 'other.db'}"
    env = {"TESSERA_SERVER__PORT": "9000", "TESSERA_STORAGE__URL": other_store, "TESSERA_STORAGE__SCHEMA_NAME": None}
    assert "run tessera migrate" in tessera.fails("client", "list", env=env)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (('id = "default"', 'id = "Default"'), "tenants[0].id: must be a lower-case slug"),
        (
            ('grant_types = ["client_credentials"]', 'grant_types = ["implicit"]'),
            "tenants[0].clients[0].grant_types[0]",
        ),
        (("[server]", "[server]\ncolour = 1"), "server.colour: unknown key (not a Tessera setting)"),
        (("[server]", "[server"), "cannot read configuration tessera.toml: "),
    ],
)
def test_an_invalid_configuration_fails_naming_the_key(tessera: Tessera, edit: tuple[str, str], message: str) -> None:
    tessera.init()
    tessera.edit_config(*edit)
    for command in (["apply"], ["apply", "--dry-run"], ["client", "list"], ["serve"]):
        assert message in tessera.fails(*command)


def test_a_missing_configuration_file_is_one_line(tessera: Tessera) -> None:
    assert tessera.fails("--config", "nothere.toml", "apply") == "configuration file nothere.toml does not exist"


def test_a_missing_kek_is_one_line(tessera: Tessera) -> None:
    tessera.init()
    (tessera.home / ".tessera" / "kek").unlink()
    for command in (["apply"], ["client", "list"], ["keys", "rotate"], ["serve"]):
        assert tessera.fails(*command).startswith("no key-encryption key: .tessera/kek does not exist")


def test_a_wrong_kek_is_one_line_and_changes_nothing(tessera: Tessera) -> None:
    tessera.init()
    before = tessera.snapshot()
    env = {"TESSERA_KEYS__KEK": OTHER_KEK}
    for command in (["apply"], ["apply", "--dry-run"], ["client", "create", "x"], ["keys", "rotate"], ["serve"]):
        assert "sealed with key-encryption key" in tessera.fails(*command, env=env)
    assert tessera.snapshot() == before
    assert "is not valid base64" in tessera.fails("apply", env={"TESSERA_KEYS__KEK": "not base64!"})
