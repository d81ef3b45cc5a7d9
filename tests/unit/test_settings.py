"""Settings validation: every validator stops the load with a message naming the key."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tessera.errors import ConfigurationError
from tessera.settings import ClientConfig, Settings, StorageSettings, load_settings

pytestmark = pytest.mark.unit

CLIENT = '[[tenants]]\nid = "default"\n[[tenants.clients]]\nclient_id = "c1"\n'


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No TESSERA_* variable from the developer's shell, and no ./tessera.toml."""
    import os

    for name in list(os.environ):
        if name.startswith("TESSERA_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def load_error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(write(tmp_path, text))
    return str(caught.value)


INVALID = [
    ("[server]\nport = 70000\n", "server.port", "less than or equal to 65535"),
    ("[server]\nport = -1\n", "server.port", "greater than or equal to 0"),
    ('[server]\npublic_url = "ftp://x"\n', "server.public_url", "http(s) URL"),
    ('[server]\npublic_url = "https://x/?q=1"\n', "server.public_url", "without query"),
    ("[server]\nmax_body_bytes = 10\n", "server.max_body_bytes", "greater than or equal to 1024"),
    ('[storage]\nurl = "mysql://x"\n', "storage.url", "must start with sqlite+aiosqlite://"),
    ('[storage]\nschema_name = "Bad-Name"\n', "storage.schema_name", "lower-case SQL identifier"),
    ("[storage]\npool_size = 0\n", "storage.pool_size", "greater than or equal to 1"),
    ("[storage]\ncache_refresh_seconds = 0\n", "storage.cache_refresh_seconds", "greater than 0"),
    ('[keys]\nalgorithm = "HS256"\n', "keys.algorithm", "'ES256', 'RS256' or 'EdDSA'"),
    ('[tokens]\naccess_token_lifetime = "PT10S"\n', "tokens", "access_token_lifetime must be between 30s"),
    ('[tokens]\naccess_token_lifetime = "P2D"\n', "tokens", "max_access_token_lifetime"),
    ('[log]\nlevel = "TRACE"\n', "log.level", "'DEBUG', 'INFO', 'WARNING' or 'ERROR'"),
    ("[server]\nprot = 1\n", "server.prot", "unknown key (not a Tessera setting)"),
    ("colour = 1\n", "colour", "unknown key"),
    ('[[tenants]]\nid = "Upper"\n', "tenants[0].id", "lower-case slug"),
    ('[[tenants]]\nid = "t"\naccount_id = "123"\n', "tenants[0].account_id", "exactly 12 digits"),
    ('[[tenants]]\nid = "t"\nissuer = "https://x/#f"\n', "tenants[0].issuer", "without query or fragment"),
    ('[[tenants]]\nid = "t"\n[[tenants]]\nid = "t"\n', "", "duplicate tenant id 't'"),
    ('[[tenants]]\nid = "t"\n[[tenants.scopes]]\nname = "a b"\n', "tenants[0].scopes[0].name", "scope token"),
    (
        '[[tenants]]\nid = "t"\n[[tenants.scopes]]\nname = "a"\n[[tenants.scopes]]\nname = "a"\n',
        "tenants[0]",
        "duplicate scope name",
    ),
    (CLIENT + '[[tenants.clients]]\nclient_id = "c1"\n', "tenants[0]", "duplicate client_id 'c1'"),
    ('[[tenants]]\nid = "t"\n[[tenants.clients]]\nclient_id = "a b"\n', "tenants[0].clients[0].client_id", "1-128"),
    (CLIENT + 'secret_hash = "md5:00"\n', "tenants[0].clients[0].secret_hash", "sha256:<64 hex digits>"),
    (CLIENT + 'type = "public"\n', "tenants[0].clients[0]", "a public client authenticates with 'none' only"),
    (CLIENT + 'auth_methods = ["none"]\n', "tenants[0].clients[0]", "confidential client cannot use auth method"),
    (CLIENT + 'auth_methods = ["private_key_jwt"]\n', "tenants[0].clients[0]", "private_key_jwt needs jwks"),
    (
        CLIENT + 'type = "public"\nauth_methods = ["none"]\n',
        "tenants[0].clients[0]",
        "public client cannot use the client_credentials grant",
    ),
    (CLIENT + 'scopes = ["a\\"b"]\n', "tenants[0].clients[0]", "is not a valid scope token"),
    (CLIENT + 'scopes = ["a"]\ndefault_scopes = ["b"]\n', "tenants[0].clients[0]", "subset of scopes"),
    (CLIENT + 'audiences = ["not-a-uri"]\n', "tenants[0].clients[0]", "must be an absolute URI"),
    (CLIENT + 'grant_types = ["password"]\n', "tenants[0].clients[0].grant_types[0]", "client_credentials"),
    (CLIENT + 'access_token_lifetime = "PT5S"\n', "", "tenants.default.clients.c1.access_token_lifetime"),
    (
        '[[tenants]]\nid = "t"\n[[tenants.scopes]]\nname = "a"\n[[tenants.clients]]\nclient_id = "c"\nscopes = ["b"]\n',
        "tenants[0]",
        "client 'c' has undeclared scopes ['b']",
    ),
]


@pytest.mark.parametrize(("toml", "key", "message"), INVALID)
def test_an_invalid_value_is_refused_with_a_message_naming_the_key(
    tmp_path: Path, toml: str, key: str, message: str
) -> None:
    error = load_error(tmp_path, toml)
    assert error.startswith(f"invalid configuration: {key}: " if key else "invalid configuration: "), error
    assert message in error
    assert "\n" not in error  # one problem, one line


def test_a_public_client_with_a_secret_hash_is_refused() -> None:
    with pytest.raises(ValueError, match="a public client has no secret"):
        ClientConfig(
            client_id="p", type="public", auth_methods=["none"], grant_types=[], secret_hash="sha256:" + "0" * 64
        )


def test_several_problems_are_listed_one_per_line(tmp_path: Path) -> None:
    error = load_error(tmp_path, '[server]\nport = 70000\n[storage]\nurl = "mysql://x"\n')
    assert error.splitlines() == [
        "invalid configuration:",
        "  server.port: Input should be less than or equal to 65535",
        "  storage.url: must start with sqlite+aiosqlite:// or postgresql+asyncpg://",
    ]


def test_a_toml_syntax_error_names_the_file(tmp_path: Path) -> None:
    error = load_error(tmp_path, "x = [\n")
    assert error.startswith(f"cannot read configuration {tmp_path / 'config.toml'}: ")


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"configuration file .*nothere.toml does not exist"):
        load_settings(tmp_path / "nothere.toml")


def test_the_defaults_are_valid_and_secure(tmp_path: Path) -> None:
    settings = load_settings()
    assert settings.server.host == "127.0.0.1"
    assert settings.keys.algorithm == "ES256"
    assert settings.tokens.access_token_lifetime == timedelta(minutes=15)
    assert [t.id for t in settings.tenants] == ["default"]
    assert settings.database_url() == f"sqlite+aiosqlite:///{(tmp_path / '.tessera' / 'tessera.db').resolve()}"


def test_the_shipped_example_configuration_is_valid(tmp_path: Path) -> None:
    from importlib import resources

    example = resources.files("tessera").joinpath("data/tessera.example.toml").read_text()
    settings = load_settings(write(tmp_path, example))
    assert [c.client_id for c in settings.tenants[0].clients] == ["demo", "demo-web"]
    assert [r.name for r in settings.tenants[0].aws.roles] == ["MyRole"]


@pytest.mark.parametrize(
    ("url", "normalised"),
    [
        ("sqlite:///a.db", "sqlite+aiosqlite:///a.db"),
        ("sqlite+aiosqlite:////abs/a.db", "sqlite+aiosqlite:////abs/a.db"),
        ("postgresql://u@h/d", "postgresql+asyncpg://u@h/d"),
        ("postgresql+asyncpg://u@h/d", "postgresql+asyncpg://u@h/d"),
    ],
)
def test_storage_urls_are_given_their_async_driver_once(url: str, normalised: str) -> None:
    assert StorageSettings(url=url).url == normalised


# Environment variables ----------------------------------------------------------------------------
def test_an_environment_variable_wins_over_the_file_and_the_rest_of_the_section_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write(tmp_path, '[server]\nhost = "0.0.0.0"\nport = 8000\n')
    monkeypatch.setenv("TESSERA_SERVER__PORT", "9123")
    settings = load_settings(config)
    assert (settings.server.host, settings.server.port) == ("0.0.0.0", 9123)


def test_storage_url_and_kek_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write(tmp_path, '[storage]\nurl = "sqlite:///file.db"\n[keys]\nkek_file = "/run/kek"\n')
    monkeypatch.setenv("TESSERA_STORAGE__URL", "postgresql://tessera@db/tessera")
    monkeypatch.setenv("TESSERA_KEYS__KEK", "c2VjcmV0")
    settings = load_settings(config)
    assert settings.storage.url == "postgresql+asyncpg://tessera@db/tessera"
    assert settings.keys.kek is not None
    assert settings.keys.kek.get_secret_value() == "c2VjcmV0"
    assert "c2VjcmV0" not in repr(settings)
    assert settings.keys.kek_file == Path("/run/kek")


def test_a_whole_section_can_be_json_in_one_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESSERA_TENANTS", '[{"id": "alpha"}, {"id": "beta"}]')
    assert [t.id for t in load_settings().tenants] == ["alpha", "beta"]


def test_an_invalid_environment_value_names_its_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESSERA_SERVER__PORT", "abc")
    with pytest.raises(ConfigurationError) as caught:
        load_settings(write(tmp_path, "[server]\nport = 8000\n"))
    assert str(caught.value) == (
        "invalid configuration: server.port: Input should be a valid integer, unable to parse string as an integer "
        "(set by TESSERA_SERVER__PORT)"
    )


def test_tessera_config_names_the_file_and_an_explicit_file_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from_env = write(tmp_path, "[server]\nport = 1111\n", "env.toml")
    explicit = write(tmp_path, "[server]\nport = 2222\n", "explicit.toml")
    monkeypatch.setenv("TESSERA_CONFIG", str(from_env))
    assert load_settings().server.port == 1111
    assert load_settings(explicit).server.port == 2222
    assert load_settings().server.port == 1111  # the explicit file did not stick


def test_tessera_toml_in_the_working_directory_is_read_by_default(tmp_path: Path) -> None:
    write(tmp_path, "[server]\nport = 3333\n", "tessera.toml")
    assert load_settings().server.port == 3333


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.data_dir = Path("x")  # type: ignore[misc]
