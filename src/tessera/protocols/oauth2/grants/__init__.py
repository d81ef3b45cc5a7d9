"""One module per grant type."""

from tessera.protocols.oauth2.grants.authorization_code import AuthorizationCodeGrant
from tessera.protocols.oauth2.grants.client_credentials import ClientCredentialsGrant
from tessera.protocols.oauth2.grants.refresh_token import RefreshTokenGrant
from tessera.protocols.oauth2.grants.user_tokens import UserTokenLifetimes, UserTokens

__all__ = ["AuthorizationCodeGrant", "ClientCredentialsGrant", "RefreshTokenGrant", "UserTokenLifetimes", "UserTokens"]
