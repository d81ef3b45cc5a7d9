"""AssumeRoleWithWebIdentity (AWS STS API Reference): a JWT from a trusted OIDC issuer for a role's credentials.

The request is unsigned; the token is the credential. Accepted issuers: this tenant's own (its
access and ID tokens, verified with its key ring) and the tenant's configured OIDC providers
(their JWKS). Checks: a compact JWS with an asymmetric algorithm from the allow-list (never
``none`` or HMAC) and a ``typ`` naming an ID token (absent or ``JWT``) or an access token
(``at+jwt``, RFC 9068 §2.1) — never a logout token (``logout+jwt``) or any other kind of JWT —,
a valid signature, ``iss`` exactly the provider's, ``aud`` one of the provider's audiences,
``exp``/``nbf`` within the clock skew, a ``sub``. The tenant's own tokens must in addition not
be revoked (the in-memory denylist: RFC 7009 revocation, SSO logout, refresh-token reuse) and
must name a client of the tenant that exists and is enabled (the cached ``Directory``). Then the role's trust
policy must allow ``sts:AssumeRoleWithWebIdentity`` for the ``Federated`` principal
``arn:aws:iam::<account>:oidc-provider/<issuer without scheme>``, with the claims as condition
keys ``<issuer without scheme>:sub``, ``:aud``, ``:amr``, ``:azp``, ``:email``.

Errors as STS: malformed, unsigned or unverifiable token, unknown issuer, wrong audience →
``InvalidIdentityToken`` (so are revoked own tokens, and own tokens of a disabled or deleted client,
as AWS answers a token its provider no longer vouches for); expired → ``ExpiredTokenException``; keys unreachable →
``IDPCommunicationError``; no ``sub`` → ``IDPRejectedClaim``; trust policy → ``AccessDenied``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from tessera.domain.audit import AuditAction
from tessera.domain.clients import Client
from tessera.domain.jws import MalformedJws, split_compact
from tessera.domain.keys import KeyRing
from tessera.domain.tokens import verify_jwt
from tessera.domain.trusted_issuers import IssuerUnavailable
from tessera.protocols.awssts.assume_role import resolve_role, session_condition_keys
from tessera.protocols.awssts.authorization import deny, request_condition_keys, trust_decisions
from tessera.protocols.awssts.context import StsCall, StsDirectory
from tessera.protocols.awssts.errors import (
    ExpiredTokenException,
    IDPCommunicationError,
    IDPRejectedClaim,
    InvalidIdentityToken,
)
from tessera.protocols.awssts.policy_evaluation import Principal
from tessera.protocols.awssts.policy_matching import ContextValue
from tessera.protocols.awssts.requests import check_range, parse_assume_role_with_web_identity
from tessera.protocols.awssts.responses import StsResult, assumed_role_user
from tessera.protocols.awssts.sessions import (
    MIN_DURATION,
    SessionGrant,
    check_packed_size,
    mint_session,
    read_session_policies,
    session_duration,
)
from tessera.settings_aws import OidcProviderConfig, oidc_provider_name

ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]
AWS_TAGS_CLAIM = "https://aws.amazon.com/tags"
NOT_A_JWT = "The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)"
_CLAIM_KEYS = ("sub", "aud", "amr", "azp", "email", "oaud")
# RFC 7515 §4.1.9: typ is a media type, compared case-insensitively, "application/" may be omitted.
IDENTITY_TOKEN_TYPES = frozenset({"jwt", "application/jwt", "at+jwt", "application/at+jwt"})


class OwnIssuer(Protocol):
    """The tenant's own OAuth side, cached (``domain.directory.Directory``): its key ring and clients."""

    async def keyring(self, tenant_id: str) -> KeyRing: ...
    async def client(self, tenant_id: str, client_id: str) -> Client | None: ...


class RevokedTokens(Protocol):
    """The denylist of revoked token ids, held in memory (``domain.denylist.Denylist``)."""

    async def is_revoked(self, tenant_id: str, token_id: str) -> bool: ...


class IssuerKeys(Protocol):
    async def keys_for(self, provider: OidcProviderConfig, kid: str | None) -> KeySet: ...


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    provider_name: str  # issuer without scheme: the IAM provider URL and the condition-key prefix
    issuer: str
    claims: dict[str, Any]
    audience: str


class WebIdentityVerifier:
    """Verifies a web identity token against the issuer it names."""

    def __init__(
        self,
        own: OwnIssuer,
        revoked: RevokedTokens,
        issuer_keys: IssuerKeys,
        directory: StsDirectory,
        skew: float,
    ) -> None:
        self._own, self._revoked, self._issuer_keys = own, revoked, issuer_keys
        self._directory, self._skew = directory, skew

    async def verify(self, call: StsCall, token: str) -> VerifiedToken:
        try:
            header, unverified, _input, _signature = split_compact(token)
        except MalformedJws:
            raise InvalidIdentityToken(NOT_A_JWT) from None
        if header.get("alg") not in ALGORITHMS:
            raise InvalidIdentityToken(
                "The token is not signed with an accepted algorithm", detail=str(header.get("alg"))[:20]
            )
        if not is_identity_token_type(header.get("typ")):
            raise InvalidIdentityToken(
                "The token is not an ID token or an access token", detail=f"typ {str(header.get('typ'))[:40]}"
            )
        issuer = unverified.get("iss")
        if not isinstance(issuer, str) or not issuer:
            raise InvalidIdentityToken("The token has no iss claim")
        tenant = call.tenant
        if tenant.config.trust_own_issuer and issuer == tenant.issuer:
            claims = await self._own_claims(call, token)
            audiences = {tenant.tenant.audience_default(tenant.issuer), *tenant.config.own_issuer_audiences}
        else:
            provider = await self._directory.oidc_provider(tenant.id, oidc_provider_name(issuer))
            if provider is None or provider.issuer.rstrip("/") != issuer.rstrip("/"):
                raise InvalidIdentityToken(f"No OpenIDConnect provider found in your account for {issuer[:200]}")
            claims = await self._external_claims(call, token, provider, header.get("kid"))
            audiences = set(provider.audiences)
        audience = _matching_audience(claims.get("aud"), audiences)
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise IDPRejectedClaim("The token has no sub claim")
        return VerifiedToken(oidc_provider_name(issuer), issuer, claims, audience)

    async def _own_claims(self, call: StsCall, token: str) -> dict[str, Any]:
        tenant_id = call.tenant.id
        ring = await self._own.keyring(tenant_id)
        claims = verify_jwt(ring, token, call.now, float("inf"), typ=None)  # signature; typ above, times below
        if claims is None:
            raise InvalidIdentityToken("The token's signature could not be verified", detail="own issuer")
        self._check_times(claims, call.now)
        token_id = claims.get("jti")
        if isinstance(token_id, str) and await self._revoked.is_revoked(tenant_id, token_id):
            raise InvalidIdentityToken("The token has been revoked", detail="own token on the denylist")
        client_id = _client_of(claims)
        client = None if client_id is None else await self._own.client(tenant_id, client_id)
        if client is None or not client.is_enabled:
            raise InvalidIdentityToken(
                "The token was issued to a client that is disabled or no longer exists",
                detail=f"client {str(client_id)[:64]!r}",
            )
        return claims

    async def _external_claims(
        self, call: StsCall, token: str, provider: OidcProviderConfig, kid: object
    ) -> dict[str, Any]:
        try:
            keys = await self._issuer_keys.keys_for(provider, kid if isinstance(kid, str) else None)
        except IssuerUnavailable as exc:
            raise IDPCommunicationError(
                "Couldn't retrieve verification key from your identity provider, please reference "
                "AssumeRoleWithWebIdentity documentation for requirements",
                detail=str(exc),
            ) from None
        try:
            decoded = jwt.decode(token, keys, algorithms=ALGORITHMS)
        except (JoseError, ValueError, TypeError) as exc:
            raise InvalidIdentityToken(
                "The token's signature could not be verified", detail=type(exc).__name__
            ) from None
        claims: dict[str, Any] = dict(decoded.claims)
        if claims.get("iss") != provider.issuer and str(claims.get("iss", "")).rstrip("/") != provider.issuer.rstrip(
            "/"
        ):
            raise InvalidIdentityToken("The token's issuer does not match the provider")
        self._check_times(claims, call.now)
        return claims

    def _check_times(self, claims: dict[str, Any], now: float) -> None:
        exp, nbf = claims.get("exp"), claims.get("nbf")
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            raise InvalidIdentityToken("The token has no exp claim")
        if exp + self._skew <= now:
            raise ExpiredTokenException(
                "Token expired: current date/time must be before the expiration date/time", detail=f"exp {exp}"
            )
        if isinstance(nbf, int | float) and nbf - self._skew > now:
            raise InvalidIdentityToken("The token is not valid yet (nbf)")


def is_identity_token_type(typ: object) -> bool:
    """An ID token (``typ`` absent or ``JWT``) or an access token (``at+jwt``), nothing else."""
    return typ is None or (isinstance(typ, str) and typ.lower() in IDENTITY_TOKEN_TYPES)


def _client_of(claims: dict[str, Any]) -> str | None:
    """The client a token of the tenant's own was issued to: ``client_id`` (RFC 9068), else ``azp``/``aud``."""
    for name in ("client_id", "azp", "aud"):
        value = claims.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def _matching_audience(claim: object, allowed: set[str]) -> str:
    values = [claim] if isinstance(claim, str) else claim if isinstance(claim, list) else []
    for value in values:
        if isinstance(value, str) and value in allowed:
            return value
    raise InvalidIdentityToken("Incorrect token audience")


def claim_condition_keys(token: VerifiedToken) -> dict[str, ContextValue]:
    keys: dict[str, ContextValue] = {}
    for name in _CLAIM_KEYS:
        value = token.claims.get(name)
        if name == "aud":
            value = token.audience
        if isinstance(value, str):
            keys[f"{token.provider_name}:{name}"] = value
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            keys[f"{token.provider_name}:{name}"] = tuple(value)
    return keys


def _token_tags(claims: dict[str, Any]) -> tuple[dict[str, str], tuple[str, ...]]:
    """Session tags from the ``https://aws.amazon.com/tags`` claim (IAM "Passing session tags", web identity)."""
    block = claims.get(AWS_TAGS_CLAIM)
    if not isinstance(block, dict):
        return {}, ()
    raw = block.get("principal_tags", {})
    tags: dict[str, str] = {}
    if isinstance(raw, dict):
        for key, value in raw.items():
            first = value[0] if isinstance(value, list) and value else value
            if isinstance(key, str) and isinstance(first, str):
                tags[key] = first
    transitive = block.get("transitive_tag_keys", [])
    keys = tuple(k for k in transitive if isinstance(k, str) and k in tags) if isinstance(transitive, list) else ()
    return tags, keys


class AssumeRoleWithWebIdentityAction:
    def __init__(self, directory: StsDirectory, verifier: WebIdentityVerifier) -> None:
        self._directory, self._verifier = directory, verifier

    async def handle(self, call: StsCall) -> StsResult:
        request = parse_assume_role_with_web_identity(call.query)
        if request.session.duration_seconds is not None:
            check_range(request.session.duration_seconds, "durationSeconds", MIN_DURATION, 43_200)
        tenant = call.tenant
        token = await self._verifier.verify(call, request.web_identity_token.reveal())
        provider_arn = f"arn:aws:iam::{tenant.account}:oidc-provider/{token.provider_name}"
        known = await resolve_role(
            call, self._directory, request.role_arn, "Principal", "sts:AssumeRoleWithWebIdentity"
        )
        policies = await read_session_policies(request.session, tenant, self._directory)
        tags, transitive = _token_tags(token.claims)
        source_identity = token.claims.get("https://aws.amazon.com/source_identity")
        source_identity = source_identity if isinstance(source_identity, str) else None
        keys: dict[str, ContextValue] = {**request_condition_keys(call), **claim_condition_keys(token)}
        keys.update(session_condition_keys(request.role_session_name, tags, transitive, source_identity))
        keys["aws:FederatedProvider"] = provider_arn
        principal = Principal(provider_arn, "Federated", tenant.account, aliases=(token.provider_name,))
        actions = ["sts:AssumeRoleWithWebIdentity", *(["sts:TagSession"] if tags else [])]
        actions += ["sts:SetSourceIdentity"] if source_identity else []
        decision, context = trust_decisions(known.trust_policy, actions, request.role_arn, principal, keys)
        ring = await self._directory.session_keys(tenant.id)
        if not decision.allowed:
            raise deny(
                (ring.sealing_key_id, ring.sealing_key),
                decision,
                context,
                [known.trust_policy],
                str(token.claims["sub"]),
                who="Principal",
                reason="trust policy",
            )
        duration = session_duration(request.session.duration_seconds, known.role.spec.max_session_duration, None)
        packed = check_packed_size(policies, tags, transitive)
        role = known.role
        grant = SessionGrant(
            principal_arn=role.session_arn(tenant.account, request.role_session_name),
            assumed_role_id=f"{role.role_id}:{request.role_session_name}",
            session_name=request.role_session_name,
            duration=duration,
            role_arn=request.role_arn,
            source_identity=source_identity,
            policies=policies,
            tags=tags,
            transitive_tag_keys=transitive,
            source_principal=provider_arn,
        )
        credentials = mint_session(grant, tenant, ring, call.now)
        call.notes.note(
            AuditAction.STS_ASSUME_ROLE_WITH_WEB_IDENTITY,
            "success",
            actor=f"oidc:{token.provider_name}",
            token_id=credentials.access_key_id,
            details={
                "provider": provider_arn,
                "subject": str(token.claims["sub"])[:256],
                "audience": token.audience,
                "role_arn": request.role_arn,
                "session_name": request.role_session_name,
                "new_access_key_id": credentials.access_key_id,
                "duration": duration,
            },
        )
        members = [
            credentials.members(),
            ("SubjectFromWebIdentityToken", str(token.claims["sub"])),
            assumed_role_user(grant.assumed_role_id, grant.principal_arn),
            ("PackedPolicySize", packed),
            ("Provider", token.issuer),
            ("Audience", token.audience),
        ]
        if source_identity:
            members.append(("SourceIdentity", source_identity))
        return StsResult("AssumeRoleWithWebIdentity", members, credentials)


__all__ = [
    "ALGORITHMS",
    "IDENTITY_TOKEN_TYPES",
    "AssumeRoleWithWebIdentityAction",
    "OwnIssuer",
    "RevokedTokens",
    "VerifiedToken",
    "WebIdentityVerifier",
    "claim_condition_keys",
    "is_identity_token_type",
]
