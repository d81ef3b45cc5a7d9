"""AssumeRoleWithSAML (AWS STS API Reference; IAM "Configuring SAML assertions for the authentication response").

The request is unsigned; the signed SAML Response is the credential. ``PrincipalArn`` names the
tenant's SAML provider, whose certificates verify the Response (``saml_assertion``). The assertion
must be addressed to Tessera (an accepted Audience and Recipient), carry the
``https://aws.amazon.com/SAML/Attributes/Role`` value ``<role arn>,<provider arn>`` (either order)
for the requested pair and a ``RoleSessionName`` attribute. The role's trust policy must allow
``sts:AssumeRoleWithSAML`` for the ``Federated`` provider, with the condition keys ``saml:aud``
(the Recipient), ``saml:sub``, ``saml:sub_type``, ``saml:iss``, ``saml:namequalifier`` and
``saml:doc``. Duration: DurationSeconds, else the SessionDuration attribute, else one hour, up
to the role's maximum (the assertion's NotOnOrAfter bounds when it may be used, not the session).

Each assertion is accepted once (SAML 2.0 Profiles §4.1.4.5): its ID is remembered per provider in
the replay store until its NotOnOrAfter plus the clock skew, and a second use is
``InvalidIdentityToken`` (AWS documents no code of its own for a replay; this is its code for an
assertion it will not accept). The ID is spent only when credentials are about to be issued, so
a request refused for another reason (wrong role, trust policy) leaves the assertion usable; two
concurrent uses still yield one session, as the replay store's insert succeeds once.

Errors: a Response that does not verify → ``InvalidIdentityToken``; expired → ``ExpiredTokenException``;
addressed elsewhere, or missing required attributes → ``IDPRejectedClaim``; the Role attribute or
the trust policy refusing → ``AccessDenied``.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import TYPE_CHECKING

from tessera.domain.audit import AuditAction
from tessera.domain.aws_directory import KnownSamlProvider
from tessera.protocols.awssts.assume_role import resolve_role, session_condition_keys
from tessera.protocols.awssts.authorization import deny, request_condition_keys, trust_decisions
from tessera.protocols.awssts.context import RememberOnce, StsCall, StsDirectory
from tessera.protocols.awssts.errors import AccessDenied, IDPRejectedClaim, InvalidIdentityToken, ValidationError
from tessera.protocols.awssts.policy_evaluation import Principal
from tessera.protocols.awssts.policy_matching import ContextValue
from tessera.protocols.awssts.requests import check_range, check_text, parse_assume_role_with_saml
from tessera.protocols.awssts.responses import StsResult, assumed_role_user
from tessera.protocols.awssts.saml_attributes import (
    DURATION_ATTRIBUTE,
    ROLE_ATTRIBUTE,
    SESSION_NAME_ATTRIBUTE,
    SOURCE_IDENTITY_ATTRIBUTE,
    TAG_ATTRIBUTE_PREFIX,
    TRANSITIVE_ATTRIBUTE,
)
from tessera.protocols.awssts.sessions import (
    MIN_DURATION,
    SessionGrant,
    check_packed_size,
    mint_session,
    read_session_policies,
    session_duration,
)

if TYPE_CHECKING:
    from tessera.protocols.awssts.saml_assertion import SamlAssertion

_SESSION_RE = re.compile(r"^[\w+=,.@-]*\Z", re.ASCII)


def name_qualifier(issuer: str, account: str, provider_name: str) -> str:
    """AWS's ``NameQualifier``: base64(SHA-1(issuer + account + "/" + provider name))."""
    digest = hashlib.sha1(f"{issuer}{account}/{provider_name}".encode(), usedforsecurity=False).digest()
    return base64.b64encode(digest).decode("ascii")


def _role_pairs(assertion: SamlAssertion) -> set[tuple[str, str]]:
    pairs = set()
    for value in assertion.attribute(ROLE_ATTRIBUTE):
        parts = [p.strip() for p in value.split(",")]
        if len(parts) != 2:
            continue
        first, second = parts
        pairs.add((first, second) if ":role/" in first else (second, first))
    return pairs


def _session_name(assertion: SamlAssertion) -> str:
    values = assertion.attribute(SESSION_NAME_ATTRIBUTE)
    if len(values) != 1:
        raise IDPRejectedClaim("RoleSessionName is required in the SAML assertion (exactly one value)")
    try:
        return check_text(values[0], "roleSessionName", min_len=2, max_len=64, pattern=(r"[\w+=,.@-]*", _SESSION_RE))
    except ValidationError as exc:
        raise IDPRejectedClaim(f"The RoleSessionName attribute is invalid: {exc.description}") from None


def _tags(assertion: SamlAssertion) -> tuple[dict[str, str], tuple[str, ...]]:
    tags = {
        name[len(TAG_ATTRIBUTE_PREFIX) :]: values[0]
        for name, values in assertion.attributes.items()
        if name.startswith(TAG_ATTRIBUTE_PREFIX) and values
    }
    transitive = tuple(k for k in assertion.attribute(TRANSITIVE_ATTRIBUTE) if k in tags)
    return tags, transitive


def _requested_duration(requested: int | None, assertion: SamlAssertion) -> int | None:
    if requested is not None:
        return requested
    values = assertion.attribute(DURATION_ATTRIBUTE)
    if values and values[0].isdigit():
        return max(MIN_DURATION, min(int(values[0]), 43_200))
    return None


def saml_condition_keys(
    assertion: SamlAssertion, account: str, provider: str, qualifier: str
) -> dict[str, ContextValue]:
    """The ``saml:`` keys: attributes with plain names first, then the computed keys, which always win.

    An attribute the IdP names ``sub`` or ``aud`` (attribute values are whatever the IdP's user
    directory holds) must not stand in for the assertion's own Subject or Recipient.
    """
    keys: dict[str, ContextValue] = {}
    for name, values in assertion.attributes.items():
        if values and ":" not in name and "/" not in name:  # friendly names (eduPerson..., mail, ...)
            keys[f"saml:{name.lower()}"] = values[0] if len(values) == 1 else values
    keys.update(
        {
            "saml:aud": assertion.recipient,
            "saml:sub": assertion.subject,
            "saml:sub_type": assertion.subject_type,
            "saml:iss": assertion.issuer,
            "saml:namequalifier": qualifier,
            "saml:doc": f"{account}/{provider}",
        }
    )
    return keys


class AssumeRoleWithSAMLAction:
    def __init__(self, directory: StsDirectory, remember_once: RememberOnce, skew: float) -> None:
        self._directory, self._remember_once, self._skew = directory, remember_once, skew

    async def _spend(self, call: StsCall, provider_name: str, assertion: SamlAssertion) -> None:
        """Use an assertion once (SAML Profiles §4.1.4.5), remembered until its NotOnOrAfter (+ skew)."""
        assertion_id = assertion.assertion_id
        if len(assertion_id) > 200:
            assertion_id = "sha256:" + hashlib.sha256(assertion_id.encode()).hexdigest()
        key = f"saml:{provider_name}:{assertion_id}"
        if not await self._remember_once(call.tenant.id, key, assertion.not_on_or_after + self._skew):
            raise InvalidIdentityToken(
                "The SAML assertion has already been used", detail=f"assertion {assertion_id[:80]!r} replayed"
            )

    async def _provider(self, call: StsCall, principal_arn: str) -> tuple[str, KnownSamlProvider]:
        prefix = f"arn:aws:iam::{call.tenant.account}:saml-provider/"
        name = principal_arn.removeprefix(prefix)
        provider = None if name == principal_arn else await self._directory.saml_provider(call.tenant.id, name)
        if provider is None:
            raise InvalidIdentityToken(f"SAML provider {principal_arn} does not exist in this account")
        return name, provider

    async def handle(self, call: StsCall) -> StsResult:
        request = parse_assume_role_with_saml(call.query)
        if request.session.duration_seconds is not None:
            check_range(request.session.duration_seconds, "durationSeconds", MIN_DURATION, 43_200)
        tenant = call.tenant
        provider_name, provider = await self._provider(call, request.principal_arn)
        from tessera.protocols.awssts.saml_assertion import verify_saml_response  # lxml + signxml: on first use

        assertion = verify_saml_response(request.saml_assertion.reveal(), provider.certificates, call.now, self._skew)
        if not assertion.is_addressed_to(provider.audiences):
            raise IDPRejectedClaim("The SAML assertion's Audience is not one this service provider accepts")
        if assertion.recipient not in {*provider.recipients, f"{tenant.issuer}/sts/saml"}:
            raise IDPRejectedClaim("The SAML assertion's Recipient is not this service provider")
        if (request.role_arn, request.principal_arn) not in _role_pairs(assertion):
            raise AccessDenied("Not authorized to perform sts:AssumeRoleWithSAML", detail="not in the Role attribute")
        session_name = _session_name(assertion)
        known = await resolve_role(call, self._directory, request.role_arn, "Principal", "sts:AssumeRoleWithSAML")
        policies = await read_session_policies(request.session, tenant, self._directory)
        tags, transitive = _tags(assertion)
        source_identity = (assertion.attribute(SOURCE_IDENTITY_ATTRIBUTE) or (None,))[0]
        qualifier = name_qualifier(assertion.issuer, tenant.account, provider_name)
        keys = {
            **request_condition_keys(call),
            **saml_condition_keys(assertion, tenant.account, provider_name, qualifier),
        }
        keys.update(session_condition_keys(session_name, tags, transitive, source_identity))
        keys["aws:FederatedProvider"] = request.principal_arn
        principal = Principal(request.principal_arn, "Federated", tenant.account)
        actions = ["sts:AssumeRoleWithSAML", *(["sts:TagSession"] if tags else [])]
        actions += ["sts:SetSourceIdentity"] if source_identity else []
        decision, context = trust_decisions(known.trust_policy, actions, request.role_arn, principal, keys)
        ring = await self._directory.session_keys(tenant.id)
        if not decision.allowed:
            raise deny(
                (ring.sealing_key_id, ring.sealing_key),
                decision,
                context,
                [known.trust_policy],
                assertion.subject,
                who="Principal",
                reason="trust policy",
            )
        requested = _requested_duration(request.session.duration_seconds, assertion)
        duration = session_duration(requested, known.role.spec.max_session_duration, None)
        packed = check_packed_size(policies, tags, transitive)
        role = known.role
        grant = SessionGrant(
            principal_arn=role.session_arn(tenant.account, session_name),
            assumed_role_id=f"{role.role_id}:{session_name}",
            session_name=session_name,
            duration=duration,
            role_arn=request.role_arn,
            source_identity=source_identity,
            policies=policies,
            tags=tags,
            transitive_tag_keys=transitive,
            source_principal=request.principal_arn,
        )
        await self._spend(call, provider_name, assertion)  # last: a refused request does not burn it
        credentials = mint_session(grant, tenant, ring, call.now)
        call.notes.note(
            AuditAction.STS_ASSUME_ROLE_WITH_SAML,
            "success",
            actor=f"saml:{provider_name}",
            token_id=credentials.access_key_id,
            details={
                "provider": request.principal_arn,
                "issuer": assertion.issuer[:256],
                "subject": assertion.subject[:256],
                "role_arn": request.role_arn,
                "session_name": session_name,
                "new_access_key_id": credentials.access_key_id,
                "duration": duration,
            },
        )
        members = [
            credentials.members(),
            assumed_role_user(grant.assumed_role_id, grant.principal_arn),
            ("PackedPolicySize", packed),
            ("Subject", assertion.subject),
            ("SubjectType", assertion.subject_type),
            ("Issuer", assertion.issuer),
            ("Audience", assertion.recipient),
            ("NameQualifier", qualifier),
        ]
        if source_identity:
            members.append(("SourceIdentity", source_identity))
        return StsResult("AssumeRoleWithSAML", members, credentials)


__all__ = ["AssumeRoleWithSAMLAction", "name_qualifier", "saml_condition_keys"]
