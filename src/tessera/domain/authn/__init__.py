"""Ways a person proves who they are. Each step yields an ``Authentication`` (amr, acr, time)."""

from tessera.domain.authn.password import (
    AUTHENTICATION_PWD,
    Authentication,
    PasswordHasher,
    PasswordPolicy,
    WeakPassword,
)
from tessera.domain.authn.throttle import FailureRecord, ThrottleDecision, ThrottlePolicy, decide, record_failure

__all__ = [
    "AUTHENTICATION_PWD",
    "Authentication",
    "FailureRecord",
    "PasswordHasher",
    "PasswordPolicy",
    "ThrottleDecision",
    "ThrottlePolicy",
    "WeakPassword",
    "decide",
    "record_failure",
]
