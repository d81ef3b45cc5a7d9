"""OpenID Connect provider core (OIDC Core 1.0, Discovery 1.0, RP-Initiated and Back-Channel Logout 1.0).

The flow and endpoint services (``authorization_flow``, ``userinfo``, ``backchannel``) are imported
by module path; this package re-exports the pure building blocks.
"""

from tessera.protocols.oidc.claims import SCOPE_CLAIMS, SCOPE_DESCRIPTIONS, claims_supported, user_claims
from tessera.protocols.oidc.id_token import IdTokenContext, id_token_claims, token_hash
from tessera.protocols.oidc.logout import (
    BACKCHANNEL_EVENT,
    LOGOUT_TOKEN_TYP,
    InvalidLogoutRequest,
    LogoutRequest,
    logout_token_claims,
    validate_logout_request,
)
from tessera.protocols.oidc.subject import SubjectIdentifiers, pairwise_subject, sector_of, subject_for

__all__ = [
    "BACKCHANNEL_EVENT",
    "LOGOUT_TOKEN_TYP",
    "SCOPE_CLAIMS",
    "SCOPE_DESCRIPTIONS",
    "IdTokenContext",
    "InvalidLogoutRequest",
    "LogoutRequest",
    "SubjectIdentifiers",
    "claims_supported",
    "id_token_claims",
    "logout_token_claims",
    "pairwise_subject",
    "sector_of",
    "subject_for",
    "token_hash",
    "user_claims",
    "validate_logout_request",
]
