"""Typed configuration: environment (``TESSERA_`` prefix, ``__`` nesting), then a TOML file, then defaults.

The file also holds the declarative bootstrap (tenants and what they contain), reconciled at
start-up and by ``tessera apply``. Every value is validated when the process starts; a bad value
stops it with a message naming the key (``ConfigurationError``).
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from tessera.errors import ConfigurationError

SigningAlgorithm = Literal["ES256", "RS256", "EdDSA"]
ClientAuthMethod = Literal["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]
GrantType = Literal["client_credentials", "authorization_code", "refresh_token"]

_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._~-]{1,128}$")
_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")  # RFC 6749 §3.3 scope-token
_SECRET_HASH = re.compile(r"^sha256:[0-9a-f]{64}$")

DEFAULT_CONFIG_FILE = "tessera.toml"
_DEFAULT_AUTH_METHODS: list[ClientAuthMethod] = ["client_secret_basic", "client_secret_post"]
_DEFAULT_GRANTS: list[GrantType] = ["client_credentials"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ServerSettings(_Model):
    """The HTTP listener."""

    host: str = Field(default="127.0.0.1", description="Address to listen on; 0.0.0.0 listens on every interface.")
    port: int = Field(default=8000, ge=0, le=65535, description="TCP port to listen on (`tessera serve --port`).")
    public_url: str | None = Field(
        default=None, description="Base URL clients use to reach Tessera; default http://host:port."
    )
    max_body_bytes: int = Field(default=65_536, ge=1024, description="Larger request bodies are refused.")
    access_log: bool = Field(default=True, description="One JSON line per request (no query strings).")
    trusted_proxies: list[str] = Field(
        default_factory=list, description="Peers whose X-Forwarded-For is believed for the source IP."
    )

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.match(r"^https?://[^/?#]+(/[^?#]*)?$", value):
            raise ValueError("must be an http(s) URL without query or fragment")
        return value.rstrip("/")

    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"


class StorageSettings(_Model):
    """Where durable state lives."""

    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL: sqlite+aiosqlite:///path or postgresql+asyncpg://... Default: SQLite in data_dir.",
    )
    pool_size: int = Field(default=10, ge=1, le=200, description="Database connections each node keeps open.")
    schema_name: str | None = Field(
        default=None, description="PostgreSQL schema to keep Tessera's tables in (its search_path)."
    )
    auto_migrate: bool = Field(default=True, description="Upgrade the schema at start-up (one node at a time).")
    cache_refresh_seconds: float = Field(
        default=1.0, gt=0, le=60, description="How often a node looks for changes other nodes made."
    )

    @field_validator("schema_name")
    @classmethod
    def _check_schema(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", value):
            raise ValueError("must be a lower-case SQL identifier")
        return value

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        for plain, driver in (("sqlite://", "sqlite+aiosqlite://"), ("postgresql://", "postgresql+asyncpg://")):
            if value.startswith(plain):
                return driver + value.removeprefix(plain)
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value


class KeySettings(_Model):
    """Signing keys and the key-encryption key (KEK) that seals them at rest."""

    algorithm: SigningAlgorithm = Field(default="ES256", description="Algorithm of newly created keys.")
    kek: SecretStr | None = Field(
        default=None, description="Base64 of 32 random bytes. Prefer TESSERA_KEYS__KEK or kek_file."
    )
    kek_file: Path | None = Field(default=None, description="File holding the KEK (base64). Default: data_dir/kek.")


class TokenSettings(_Model):
    """Lifetimes of what the token endpoint issues."""

    access_token_lifetime: timedelta = Field(
        default=timedelta(minutes=15),
        description="Default lifetime of access tokens; 30s to max_access_token_lifetime.",
    )
    max_access_token_lifetime: timedelta = Field(
        default=timedelta(hours=24),
        description="Upper bound of every client's lifetime; retired keys stay published this long.",
    )
    assertion_max_lifetime: timedelta = Field(
        default=timedelta(hours=1),
        description="Longest-lived private_key_jwt client assertion accepted (Authlib signs for one hour).",
    )
    clock_skew: timedelta = Field(
        default=timedelta(seconds=30), description="Tolerance for the clocks of clients signing assertions."
    )

    @model_validator(mode="after")
    def _check_bounds(self) -> TokenSettings:
        if not timedelta(seconds=30) <= self.access_token_lifetime <= self.max_access_token_lifetime:
            raise ValueError("access_token_lifetime must be between 30s and max_access_token_lifetime")
        return self


class LogSettings(_Model):
    """What the server logs, on stderr."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Least severe level logged."
    )
    format: Literal["json", "text"] = Field(default="json", description="json: one object per line; text: for people.")


class ScopeConfig(_Model):
    """A scope the tenant offers."""

    name: str = Field(description="The scope-token clients ask for (RFC 6749 §3.3).")
    description: str = Field(default="", description="What the scope grants, for people.")

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _SCOPE_TOKEN.match(value):
            raise ValueError("is not a valid scope token (RFC 6749 §3.3)")
        return value


class ClientConfig(_Model):
    """An OAuth client declared in the configuration."""

    client_id: str = Field(description="1-128 characters of A-Z a-z 0-9 . _ ~ -, unique in the tenant.")
    name: str = Field(default="", description="Display name.")
    type: Literal["confidential", "public"] = Field(
        default="confidential", description="confidential clients authenticate; public ones cannot keep a secret."
    )
    auth_methods: list[ClientAuthMethod] = Field(
        default_factory=lambda: _DEFAULT_AUTH_METHODS.copy(),
        description="How the client authenticates at the token endpoint; a public client uses none.",
    )
    secret_hash: str | None = Field(
        default=None, description="sha256:<hex> of the secret; absent: one is generated and shown once."
    )
    jwks: dict[str, Any] | None = Field(default=None, description="Public keys for private_key_jwt.")
    grant_types: list[GrantType] = Field(
        default_factory=lambda: _DEFAULT_GRANTS.copy(), description="Grants the client may use."
    )
    scopes: list[str] = Field(default_factory=list, description="Scopes the client may be granted.")
    default_scopes: list[str] | None = Field(default=None, description="Granted when none is asked; default all.")
    audiences: list[str] = Field(default_factory=list, description="Resource indicators (RFC 8707) allowed.")
    access_token_lifetime: timedelta | None = Field(
        default=None, description="Overrides tokens.access_token_lifetime for this client."
    )
    disabled: bool = Field(default=False, description="A disabled client cannot authenticate.")

    @field_validator("client_id")
    @classmethod
    def _check_client_id(cls, value: str) -> str:
        if not _CLIENT_ID.match(value):
            raise ValueError("must be 1-128 characters of A-Z a-z 0-9 . _ ~ -")
        return value

    @field_validator("secret_hash")
    @classmethod
    def _check_secret_hash(cls, value: str | None) -> str | None:
        if value is not None and not _SECRET_HASH.match(value):
            raise ValueError("must look like sha256:<64 hex digits> (see tessera client hash-secret)")
        return value

    @model_validator(mode="after")
    def _check_consistency(self) -> ClientConfig:
        if self.type == "public" and any(m != "none" for m in self.auth_methods):
            raise ValueError("a public client authenticates with 'none' only")
        if self.type == "public" and self.secret_hash is not None:
            raise ValueError("a public client has no secret; remove secret_hash")
        if self.type == "confidential" and "none" in self.auth_methods:
            raise ValueError("a confidential client cannot use auth method 'none'")
        if "private_key_jwt" in self.auth_methods and not self.jwks:
            raise ValueError("private_key_jwt needs jwks")
        if self.type == "public" and "client_credentials" in self.grant_types:
            raise ValueError("a public client cannot use the client_credentials grant")
        for scope in [*self.scopes, *(self.default_scopes or [])]:
            if not _SCOPE_TOKEN.match(scope):
                raise ValueError(f"scope {scope!r} is not a valid scope token")
        if self.default_scopes is not None and not set(self.default_scopes) <= set(self.scopes):
            raise ValueError("default_scopes must be a subset of scopes")
        for audience in self.audiences:
            if not _is_absolute_uri(audience):
                raise ValueError(f"audience {audience!r} must be an absolute URI without fragment")
        return self


class TenantConfig(_Model):
    """A tenant: its own issuer, keys, clients and (later) users and roles."""

    id: str = Field(description="Lower-case slug (a-z, 0-9, -), at most 64 characters; in URLs as /t/<id>.")
    name: str = Field(default="", description="Display name; default: the id.")
    issuer: str | None = Field(default=None, description="Default: <public_url>/t/<id>.")
    account_id: str | None = Field(default=None, description="12-digit account id used in AWS ARNs.")
    signing_alg: SigningAlgorithm | None = Field(
        default=None, description="Algorithm of new keys; default keys.algorithm."
    )
    default_audience: str | None = Field(default=None, description="aud of tokens asked without resource.")
    scopes: list[ScopeConfig] = Field(
        default_factory=list, description="Scopes the tenant offers ([[tenants.scopes]])."
    )
    clients: list[ClientConfig] = Field(default_factory=list, description="Declared clients ([[tenants.clients]]).")

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not _SLUG.match(value):
            raise ValueError("must be a lower-case slug (a-z, 0-9, -), at most 64 characters")
        return value

    @field_validator("account_id")
    @classmethod
    def _check_account(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"\d{12}", value):
            raise ValueError("must be exactly 12 digits")
        return value

    @field_validator("issuer")
    @classmethod
    def _check_issuer(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/?#]+(/[^?#]*)?$", value):
            raise ValueError("must be an http(s) URL without query or fragment (RFC 8414 §2)")
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _check_unique(self) -> TenantConfig:
        _require_unique([c.client_id for c in self.clients], "client_id")
        _require_unique([s.name for s in self.scopes], "scope name")
        if self.scopes:
            offered = {s.name for s in self.scopes}
            for client in self.clients:
                unknown = set(client.scopes) - offered
                if unknown:
                    raise ValueError(f"client {client.client_id!r} has undeclared scopes {sorted(unknown)}")
        return self


class Settings(BaseSettings):
    """Everything Tessera reads at start-up."""

    model_config = SettingsConfigDict(
        env_prefix="TESSERA_", env_nested_delimiter="__", frozen=True, extra="forbid", toml_file=None
    )

    data_dir: Path = Field(default=Path(".tessera"), description="Embedded database, KEK and demo files.")
    server: ServerSettings = Field(default_factory=ServerSettings, description="The HTTP listener.")
    storage: StorageSettings = Field(default_factory=StorageSettings, description="Where durable state lives.")
    keys: KeySettings = Field(default_factory=KeySettings, description="Signing keys and the KEK.")
    tokens: TokenSettings = Field(default_factory=TokenSettings, description="Token lifetimes.")
    log: LogSettings = Field(default_factory=LogSettings, description="Server logs.")
    tenants: list[TenantConfig] = Field(
        default_factory=lambda: [TenantConfig(id="default", name="Default")],
        description="Declarative bootstrap, reconciled at start and by tessera apply ([[tenants]]).",
    )

    @model_validator(mode="after")
    def _check_tenants(self) -> Settings:
        _require_unique([t.id for t in self.tenants], "tenant id")
        for tenant in self.tenants:
            for client in tenant.clients:
                lifetime = client.access_token_lifetime
                if lifetime is not None and not (
                    timedelta(seconds=30) <= lifetime <= self.tokens.max_access_token_lifetime
                ):
                    raise ValueError(
                        f"tenants.{tenant.id}.clients.{client.client_id}.access_token_lifetime must be "
                        "between 30s and tokens.max_access_token_lifetime"
                    )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = _config_path_from_env()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)

    # Derived values -------------------------------------------------------------------------
    def database_url(self) -> str:
        return self.storage.url or f"sqlite+aiosqlite:///{(self.data_dir / 'tessera.db').resolve()}"

    def connect_args(self) -> dict[str, Any]:
        if self.storage.schema_name and self.database_url().startswith("postgresql"):
            return {"server_settings": {"search_path": self.storage.schema_name}}
        return {}

    def kek_path(self) -> Path:
        return self.keys.kek_file or self.data_dir / "kek"

    def issuer_for(self, tenant: TenantConfig) -> str:
        return tenant.issuer or f"{self.server.base_url()}/t/{tenant.id}"


def _config_path_from_env() -> Path | None:
    raw = os.environ.get("TESSERA_CONFIG")
    if raw:
        return Path(raw)
    default = Path(DEFAULT_CONFIG_FILE)
    return default if default.is_file() else None


def _require_unique(values: list[str], what: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"duplicate {what} {value!r}")
        seen.add(value)


def _is_absolute_uri(value: str) -> bool:
    return bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:[^#\s]+$", value))


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Load and validate the settings, turning validation errors into a ``ConfigurationError``.

    ``config_file`` wins over ``TESSERA_CONFIG`` and ``./tessera.toml``.
    """
    previous = os.environ.get("TESSERA_CONFIG")
    try:
        if config_file is not None:
            if not config_file.is_file():
                raise ConfigurationError(f"configuration file {config_file} does not exist")
            os.environ["TESSERA_CONFIG"] = str(config_file)
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigurationError(describe_validation_error(exc)) from None
    except (OSError, ValueError) as exc:  # TOML syntax errors are ValueErrors
        source = _config_path_from_env()
        where = f" {source}" if source is not None else ""
        raise ConfigurationError(f"cannot read configuration{where}: {exc}") from None
    finally:
        if config_file is not None:
            if previous is None:
                os.environ.pop("TESSERA_CONFIG", None)
            else:
                os.environ["TESSERA_CONFIG"] = previous


def describe_validation_error(exc: ValidationError, what: str = "configuration") -> str:
    """``invalid <what>: key.path: message`` (one line per problem when there are several).

    List items appear as ``tenants[0].clients[1]``; a value that came from the environment names
    its variable, since it wins over the file.
    """
    lines = []
    for error in exc.errors():
        key = _key_path(error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key (not a Tessera setting)"
        variable = _env_variable_for(error["loc"])
        if variable is not None:
            message += f" (set by {variable})"
        lines.append(f"{key}: {message}" if key else message)
    if len(lines) == 1:
        return f"invalid {what}: {lines[0]}"
    return f"invalid {what}:\n  " + "\n  ".join(lines)


def _key_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else part)
    return path


def _env_variable_for(loc: tuple[int | str, ...]) -> str | None:
    """The most specific ``TESSERA_...`` variable set for ``loc`` or one of its parents."""
    names: list[str] = []
    for part in loc:
        if not isinstance(part, str):
            break
        names.append(part.upper())
    while names:
        variable = "TESSERA_" + "__".join(names)
        if variable in os.environ:
            return variable
        names.pop()
    return None


__all__ = [
    "DEFAULT_CONFIG_FILE",
    "ClientAuthMethod",
    "ClientConfig",
    "GrantType",
    "KeySettings",
    "LogSettings",
    "ScopeConfig",
    "ServerSettings",
    "Settings",
    "SigningAlgorithm",
    "StorageSettings",
    "TenantConfig",
    "TokenSettings",
    "describe_validation_error",
    "load_settings",
]
