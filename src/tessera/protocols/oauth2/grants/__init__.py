"""One module per grant type."""

from tessera.protocols.oauth2.grants.client_credentials import ClientCredentialsGrant

__all__ = ["ClientCredentialsGrant"]
