"""OpenID Provider metadata (OpenID Connect Discovery 1.0 §3), a superset of RFC 8414 metadata."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tessera.domain.scopes import OIDC_SCOPES
from tessera.protocols.oauth2.pkce import SUPPORTED_METHODS
from tessera.protocols.oidc.claims import claims_supported

ACR_VALUES = ("1",)


@dataclass(frozen=True, slots=True)
class OidcEndpoints:
    authorization: str
    userinfo: str
    end_session: str


def openid_configuration(
    oauth_metadata: Mapping[str, Any], endpoints: OidcEndpoints, scopes: Sequence[str], signing_alg: str
) -> dict[str, Any]:
    """Every required field and the relevant optional ones; the issuer is the tenant's only issuer."""
    document = dict(oauth_metadata)
    offered = list(dict.fromkeys([*OIDC_SCOPES, *scopes]))
    auth_methods = list(dict.fromkeys([*document.get("token_endpoint_auth_methods_supported", []), "none"]))
    document.update(
        authorization_endpoint=endpoints.authorization,
        userinfo_endpoint=endpoints.userinfo,
        end_session_endpoint=endpoints.end_session,
        scopes_supported=offered,
        response_types_supported=["code"],
        response_modes_supported=["query"],
        grant_types_supported=document.get("grant_types_supported", []),
        subject_types_supported=["public", "pairwise"],
        id_token_signing_alg_values_supported=[signing_alg],
        userinfo_signing_alg_values_supported=[],
        token_endpoint_auth_methods_supported=auth_methods,
        code_challenge_methods_supported=list(SUPPORTED_METHODS),
        claims_supported=claims_supported(),
        claim_types_supported=["normal"],
        claims_parameter_supported=False,
        request_parameter_supported=False,
        request_uri_parameter_supported=False,
        require_request_uri_registration=False,
        authorization_response_iss_parameter_supported=True,
        prompt_values_supported=["consent", "login", "none", "select_account"],
        acr_values_supported=list(ACR_VALUES),
        ui_locales_supported=["en"],
        display_values_supported=["page"],
        backchannel_logout_supported=True,
        backchannel_logout_session_supported=True,
        frontchannel_logout_supported=False,
    )
    document.pop("userinfo_signing_alg_values_supported")
    return document


__all__ = ["ACR_VALUES", "OidcEndpoints", "openid_configuration"]
