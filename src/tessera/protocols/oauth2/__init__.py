"""OAuth 2.0 protocol core (RFC 6749, 7009, 7523, 7662, 8414, 8707, 9068)."""

from tessera.protocols.oauth2.client_auth import ClientAuthentication, ClientAuthenticator
from tessera.protocols.oauth2.endpoint_request import EndpointRequest
from tessera.protocols.oauth2.introspection import IntrospectionEndpoint
from tessera.protocols.oauth2.metadata import EndpointUrls, authorization_server_metadata
from tessera.protocols.oauth2.requests import FormParams, is_form_content_type, parse_form
from tessera.protocols.oauth2.responses import IntrospectionResponse, TokenResponse
from tessera.protocols.oauth2.revocation import RevocationEndpoint
from tessera.protocols.oauth2.token_endpoint import GrantHandler, TokenEndpoint

__all__ = [
    "ClientAuthentication",
    "ClientAuthenticator",
    "EndpointRequest",
    "EndpointUrls",
    "FormParams",
    "GrantHandler",
    "IntrospectionEndpoint",
    "IntrospectionResponse",
    "RevocationEndpoint",
    "TokenEndpoint",
    "TokenResponse",
    "authorization_server_metadata",
    "is_form_content_type",
    "parse_form",
]
