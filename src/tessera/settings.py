"""Typed configuration: environment (``TESSERA_`` prefix, ``__`` nesting), then a TOML file, then defaults.

The file also holds the declarative bootstrap (tenants and what they contain), reconciled at
start-up and by ``tessera apply``. Every value is validated when the process starts; a bad value
stops it with a message naming the key (``ConfigurationError``).
"""

from __future__ import annotations

import ipaddress
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

from tessera.domain.scopes import OIDC_SCOPES
from tessera.errors import ConfigurationError
from tessera.settings_aws import TenantAwsConfig

SigningAlgorithm = Literal["ES256", "RS256", "EdDSA"]
ClientAuthMethod = Literal["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]
GrantType = Literal["client_credentials", "authorization_code", "refresh_token"]

_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._~-]{1,128}$")
_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")  # RFC 6749 §3.3 scope-token
_SECRET_HASH = re.compile(r"^sha256:[0-9a-f]{64}$")
_USERNAME = re.compile(r"^[^\s\x00-\x1f\x7f](?:[^\x00-\x1f\x7f]{0,126}[^\s\x00-\x1f\x7f])?$")

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
    metrics_networks: list[str] = Field(
        default_factory=lambda: ["127.0.0.0/8", "::1/128"],
        description="Networks whose peers may read /metrics (tenant ids and failure counts are reconnaissance); "
        "add your Prometheus' address.",
    )
    engine: Literal["uvicorn", "granian"] = Field(
        default="uvicorn",
        description="HTTP server of `tessera serve`: uvicorn (default; the one the tests run) or granian "
        "(install tessera[granian]; faster on the token endpoint, see docs/benchmarks.md).",
    )

    @field_validator("trusted_proxies", "metrics_networks")
    @classmethod
    def _check_networks(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(f"{network!r} is not an IP address or network") from None
        return value

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.fullmatch(r"https?://[^/?#\s]+(/[^?#\s]*)?", value):
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


class SessionSettings(_Model):
    """Single sign-on sessions: a server-side record referenced by a host-only cookie."""

    idle_timeout: timedelta = Field(
        default=timedelta(minutes=30), description="A session unused this long ends (the person signs in again)."
    )
    absolute_timeout: timedelta = Field(
        default=timedelta(hours=10), description="A session ends this long after sign-in, however busy."
    )
    secure_cookies: bool | None = Field(
        default=None, description="Mark cookies Secure; default: when server.public_url is https."
    )

    @model_validator(mode="after")
    def _check_bounds(self) -> SessionSettings:
        if not timedelta(minutes=1) <= self.idle_timeout <= self.absolute_timeout:
            raise ValueError("idle_timeout must be between 1 minute and absolute_timeout")
        return self


class ThrottleSettings(_Model):
    """Progressive delay, then a temporary lockout, after repeated sign-in failures."""

    free_failures: int = Field(default=3, ge=0, le=1000, description="Failures allowed before any delay.")
    lockout_failures: int = Field(default=10, ge=1, le=100_000, description="Failures that lock sign-in.")
    base_delay: timedelta = Field(default=timedelta(seconds=1), description="First delay; doubles per failure.")
    max_delay: timedelta = Field(default=timedelta(seconds=30), description="Longest delay between attempts.")
    lockout_duration: timedelta = Field(default=timedelta(minutes=15), description="How long a lockout lasts.")
    window: timedelta = Field(
        default=timedelta(minutes=15), description="Failures older than this (since the last one) are forgotten."
    )


def _source_throttle() -> ThrottleSettings:
    return ThrottleSettings(free_failures=20, lockout_failures=100)


class LoginSettings(_Model):
    """The sign-in page: password policy and hashing, throttling, the life of a pending sign-in."""

    password_min_length: int = Field(default=12, ge=8, le=128, description="Shortest password accepted.")
    reject_common_passwords: bool = Field(
        default=True, description="Refuse passwords from the common-password list shipped with Tessera."
    )
    argon2_memory_kib: int = Field(
        default=19_456, ge=7_168, le=4_194_304, description="argon2id memory (KiB); OWASP: 19456 with t=2."
    )
    argon2_time_cost: int = Field(default=2, ge=1, le=20, description="argon2id iterations.")
    argon2_parallelism: int = Field(default=1, ge=1, le=16, description="argon2id lanes.")
    argon2_concurrency: int | None = Field(
        default=None,
        ge=1,
        le=256,
        description="Passwords hashed or checked at once; unset: one per CPU the server may run on "
        "(more only queue on the cores and thrash their caches, each holding argon2_memory_kib).",
    )
    interaction_lifetime: timedelta = Field(
        default=timedelta(minutes=15), description="How long a sign-in or consent page stays usable."
    )
    account_throttle: ThrottleSettings = Field(
        default_factory=ThrottleSettings, description="Per account (the username typed, known or not)."
    )
    source_throttle: ThrottleSettings = Field(default_factory=_source_throttle, description="Per source address.")


class OidcSettings(_Model):
    """Authorization codes, ID tokens, refresh tokens and back-channel logout."""

    code_lifetime: timedelta = Field(
        default=timedelta(seconds=60), description="Authorization codes are valid this long (at most 60 s)."
    )
    id_token_lifetime: timedelta = Field(default=timedelta(minutes=15), description="Lifetime of ID tokens.")
    refresh_token_lifetime: timedelta = Field(
        default=timedelta(hours=10),
        description="Refresh tokens without offline_access; they also end with the SSO session.",
    )
    offline_refresh_token_lifetime: timedelta = Field(
        default=timedelta(days=30), description="Refresh tokens granted offline_access (they outlive the session)."
    )
    backchannel_logout_timeout: timedelta = Field(
        default=timedelta(seconds=3), description="How long a back-channel logout POST may take."
    )

    @model_validator(mode="after")
    def _check_bounds(self) -> OidcSettings:
        if not timedelta(seconds=1) <= self.code_lifetime <= timedelta(seconds=60):
            raise ValueError("code_lifetime must be between 1 and 60 seconds")
        return self


class ScopeConfig(_Model):
    """A scope the tenant offers."""

    name: str = Field(description="The scope-token clients ask for (RFC 6749 §3.3).")
    description: str = Field(default="", description="What the scope grants, for people.")

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _SCOPE_TOKEN.fullmatch(value):
            raise ValueError("is not a valid scope token (RFC 6749 §3.3)")
        return value


class ClientConfig(_Model):
    """An OAuth client declared in the configuration.

    A public client authenticates with `none` only, has no secret and cannot use client_credentials;
    a confidential client cannot use `none`; private_key_jwt needs `jwks`; default_scopes must be a
    subset of scopes, and when the tenant declares scopes, every scope must be one of them.
    """

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
    redirect_uris: list[str] = Field(
        default_factory=list,
        description="Where /authorize may send codes, matched exactly (public clients: a 127.0.0.1 or [::1] "
        "URI with any port, RFC 8252 §7.3); https, except for loopback hosts.",
    )
    post_logout_redirect_uris: list[str] = Field(
        default_factory=list, description="Where RP-initiated logout may send the person back, matched exactly."
    )
    require_pkce: bool = Field(
        default=True,
        description="Require PKCE (S256) at /authorize; only a legacy confidential client may turn it off.",
    )
    first_party: bool = Field(default=False, description="A first-party client skips the consent screen.")
    subject_type: Literal["public", "pairwise"] = Field(
        default="public", description="public: sub is the user id; pairwise: a different sub per sector."
    )
    sector_identifier: str | None = Field(
        default=None, description="Pairwise sector (a host name); default: the host of the first redirect URI."
    )
    backchannel_logout_uri: str | None = Field(
        default=None, description="Receives a signed logout token when a session the client is part of ends."
    )
    client_uri: str | None = Field(default=None, description="The client's home page, linked on the consent screen.")

    @field_validator("client_id")
    @classmethod
    def _check_client_id(cls, value: str) -> str:
        if not _CLIENT_ID.fullmatch(value):
            raise ValueError("must be 1-128 characters of A-Z a-z 0-9 . _ ~ -")
        return value

    @field_validator("secret_hash")
    @classmethod
    def _check_secret_hash(cls, value: str | None) -> str | None:
        if value is not None and not _SECRET_HASH.fullmatch(value):
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
            if not _SCOPE_TOKEN.fullmatch(scope):
                raise ValueError(f"scope {scope!r} is not a valid scope token")
        if self.default_scopes is not None and not set(self.default_scopes) <= set(self.scopes):
            raise ValueError("default_scopes must be a subset of scopes")
        for audience in self.audiences:
            if not _is_absolute_uri(audience):
                raise ValueError(f"audience {audience!r} must be an absolute URI without fragment")
        self._check_interactive()
        return self

    def _check_interactive(self) -> None:
        """Redirect URIs and the options of clients that send people to /authorize."""
        for uri in [*self.redirect_uris, *self.post_logout_redirect_uris]:
            problem = _redirect_uri_problem(uri)
            if problem:
                raise ValueError(f"redirect URI {uri!r} {problem}")
        if self.client_uri is not None and not re.fullmatch(r"https?://[^\s#]+", self.client_uri):
            raise ValueError("client_uri must be an http(s) URL")
        if self.backchannel_logout_uri is not None and _redirect_uri_problem(self.backchannel_logout_uri):
            raise ValueError("backchannel_logout_uri " + _redirect_uri_problem(self.backchannel_logout_uri))
        if "authorization_code" in self.grant_types and not self.redirect_uris:
            raise ValueError("the authorization_code grant needs at least one redirect_uri")
        if not self.require_pkce and self.type == "public":
            raise ValueError("a public client must use PKCE (require_pkce = true)")
        if self.subject_type == "pairwise" and self.sector_identifier is None and not self.redirect_uris:
            raise ValueError("a pairwise client needs redirect_uris or a sector_identifier")
        if self.sector_identifier is not None and not re.fullmatch(r"[A-Za-z0-9.-]{1,253}", self.sector_identifier):
            raise ValueError("sector_identifier must be a host name")


class UserConfig(_Model):
    """A person declared in the configuration (``[[tenants.users]]``); the password only as an argon2 hash."""

    username: str = Field(description="Sign-in name, unique in the tenant (case-insensitive), 1-128 characters.")
    email: str | None = Field(default=None, description="E-mail address (the email claim).")
    email_verified: bool = Field(default=False, description="Whether the address is known to be the person's.")
    name: str = Field(default="", description="Display name (the name claim).")
    groups: list[str] = Field(default_factory=list, description="Group names (the groups claim).")
    attributes: dict[str, Any] = Field(default_factory=dict, description="Free-form claims, released with profile.")
    disabled: bool = Field(default=False, description="A disabled user cannot sign in or refresh tokens.")
    password_hash: str | None = Field(
        default=None, description="argon2id hash ($argon2id$...; tessera user hash-password); absent: no password."
    )

    @field_validator("username")
    @classmethod
    def _check_username(cls, value: str) -> str:
        if not _USERNAME.fullmatch(value):
            raise ValueError("must be 1-128 printable characters without spaces at either end")
        return value

    @field_validator("password_hash")
    @classmethod
    def _check_password_hash(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("$argon2id$"):
            raise ValueError("must be an argon2id hash ($argon2id$...), never a plain password")
        return value


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
    scopes: list[ScopeConfig] = Field(default_factory=list)
    clients: list[ClientConfig] = Field(default_factory=list)
    users: list[UserConfig] = Field(default_factory=list, description="Declared users ([[tenants.users]]).")
    logo_url: str | None = Field(default=None, description="Logo shown on the sign-in pages (https URL or path).")
    aws: TenantAwsConfig = Field(
        default_factory=TenantAwsConfig, description="The AWS-STS-compatible API ([tenants.aws])."
    )

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not _SLUG.fullmatch(value):
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
        if value is not None and not re.fullmatch(r"https?://[^/?#\s]+(/[^?#\s]*)?", value):
            raise ValueError("must be an http(s) URL without query or fragment (RFC 8414 §2)")
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _check_unique(self) -> TenantConfig:
        _require_unique([c.client_id for c in self.clients], "client_id")
        _require_unique([u.username.casefold() for u in self.users], "username")
        _require_unique([s.name for s in self.scopes], "scope name")
        if self.scopes:
            offered = {s.name for s in self.scopes} | set(OIDC_SCOPES)
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
    server: ServerSettings = Field(default_factory=ServerSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    keys: KeySettings = Field(default_factory=KeySettings)
    tokens: TokenSettings = Field(default_factory=TokenSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    sessions: SessionSettings = Field(default_factory=lambda: SessionSettings())
    login: LoginSettings = Field(default_factory=lambda: LoginSettings())
    oidc: OidcSettings = Field(default_factory=lambda: OidcSettings())
    tenants: list[TenantConfig] = Field(
        default_factory=lambda: [TenantConfig(id="default", name="Default")],
        description="The declarative bootstrap: reconciled at every start and by tessera apply.",
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


def _redirect_uri_problem(uri: str) -> str:
    """Why ``uri`` cannot be a redirect URI (empty when it can): absolute, no fragment, https unless loopback."""
    match = re.fullmatch(r"([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)([^#]*)", uri)
    if match is None or "#" in uri or not match.group(2):
        return "must be an absolute URI without a fragment"
    scheme, authority = match.group(1).lower(), match.group(2)
    host = authority.rsplit("@", 1)[-1]
    host = host[1:].split("]")[0] if host.startswith("[") else host.split(":")[0]
    if scheme == "http" and host not in ("localhost", "127.0.0.1", "::1") and not host.endswith(".localhost"):
        return "must use https (http is allowed for localhost and loopback addresses only)"
    return ""


def _is_absolute_uri(value: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*:[^#\s]+", value))


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
    "LoginSettings",
    "OidcSettings",
    "ScopeConfig",
    "ServerSettings",
    "SessionSettings",
    "Settings",
    "SigningAlgorithm",
    "StorageSettings",
    "TenantConfig",
    "ThrottleSettings",
    "TokenSettings",
    "UserConfig",
    "describe_validation_error",
    "load_settings",
]
