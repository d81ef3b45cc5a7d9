"""Wiring of the identity features (users, sessions, /authorize, OIDC), called by ``compose.open_services``.

Kept apart from ``compose.py`` so that each feature's wiring reads as one unit; like ``compose``,
this is an adapter-to-core wiring module that no core imports.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from tessera.clock import Clock
from tessera.domain.audit import AuditTrail
from tessera.domain.authn.login import PasswordLogin
from tessera.domain.authn.password import PasswordHasher, PasswordPolicy
from tessera.domain.authn.throttle import ThrottlePolicy
from tessera.domain.directory import Directory
from tessera.domain.sessions import SessionService, SessionTimeouts
from tessera.domain.tokens import AccessTokens
from tessera.domain.user_reconciler import UsersReconciler
from tessera.domain.users import UserDirectory
from tessera.outbound.http import HttpFormPoster
from tessera.ports import RevocationStore
from tessera.protocols.oauth2.grants import AuthorizationCodeGrant, RefreshTokenGrant, UserTokenLifetimes, UserTokens
from tessera.protocols.oauth2.token_endpoint import GrantHandler
from tessera.protocols.oidc.authorization_flow import AuthorizationFlow, FlowLifetimes
from tessera.protocols.oidc.backchannel import BackchannelLogout
from tessera.protocols.oidc.subject import SubjectIdentifiers
from tessera.protocols.oidc.userinfo import UserinfoEndpoint
from tessera.settings import Settings, ThrottleSettings
from tessera.storage.sql.store import SqlStore


@dataclass
class IdentityServices:
    hasher: PasswordHasher
    policy: PasswordPolicy
    users: UserDirectory
    login: PasswordLogin
    sessions: SessionService
    subjects: SubjectIdentifiers
    flow: AuthorizationFlow
    userinfo: UserinfoEndpoint
    backchannel: BackchannelLogout
    refresh_grant: RefreshTokenGrant
    users_reconciler: UsersReconciler
    poster: HttpFormPoster
    grants: Mapping[str, GrantHandler] = field(default_factory=dict)
    store: SqlStore | None = None

    async def maintain(self, now: float) -> None:
        """Forget expired sessions, interactions, codes, refresh tokens and old sign-in failures."""
        assert self.store is not None
        await self.store.sessions.purge_expired(now)
        await self.store.interactions.purge_expired(now)
        await self.store.codes.purge_expired(now)
        await self.store.refresh_tokens.purge_expired(now)
        await self.store.login_failures.purge_expired(now - 86_400.0)

    async def close(self) -> None:
        await self.backchannel.drain()
        await self.poster.close()


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask: ``taskset``, container cpusets)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _throttle(settings: ThrottleSettings) -> ThrottlePolicy:
    return ThrottlePolicy(
        free_failures=settings.free_failures,
        lockout_failures=settings.lockout_failures,
        base_delay=settings.base_delay.total_seconds(),
        max_delay=settings.max_delay.total_seconds(),
        lockout_duration=settings.lockout_duration.total_seconds(),
        window=settings.window.total_seconds(),
    )


def build_identity_services(
    settings: Settings,
    store: SqlStore,
    directory: Directory,
    access_tokens: AccessTokens,
    audit: AuditTrail,
    clock: Clock,
    revocations: RevocationStore,
) -> IdentityServices:
    login, oidc, sessions_cfg = settings.login, settings.oidc, settings.sessions
    hasher = PasswordHasher(
        login.argon2_memory_kib,
        login.argon2_time_cost,
        login.argon2_parallelism,
        max_parallel=login.argon2_concurrency or usable_cpus(),
    )
    policy = PasswordPolicy(login.password_min_length, login.reject_common_passwords)
    timeouts = SessionTimeouts(sessions_cfg.idle_timeout.total_seconds(), sessions_cfg.absolute_timeout.total_seconds())
    sessions = SessionService(store.sessions, store.refresh_tokens, revocations, audit, clock, timeouts)
    users = UserDirectory(store.users, hasher, policy, clock, sessions, store.revisions)
    subjects = SubjectIdentifiers(store.tenant_secrets, store.subjects)
    poster = HttpFormPoster()
    backchannel = BackchannelLogout(
        directory,
        subjects,
        poster,
        audit,
        clock,
        settings.server.base_url(),
        oidc.backchannel_logout_timeout.total_seconds(),
    )
    sessions.listeners.append(backchannel)
    lifetimes = UserTokenLifetimes(
        access_token=settings.tokens.access_token_lifetime.total_seconds(),
        id_token=oidc.id_token_lifetime.total_seconds(),
        refresh_token=oidc.refresh_token_lifetime.total_seconds(),
        offline_refresh_token=oidc.offline_refresh_token_lifetime.total_seconds(),
    )
    tokens = UserTokens(access_tokens, directory, revocations, lifetimes)
    refresh_grant = RefreshTokenGrant(store.refresh_tokens, tokens, timeouts.idle)
    flow = AuthorizationFlow(
        directory,
        store.users,
        sessions,
        store.interactions,
        store.consents,
        store.codes,
        subjects,
        FlowLifetimes(oidc.code_lifetime.total_seconds(), login.interaction_lifetime.total_seconds()),
    )
    grants: dict[str, GrantHandler] = {
        "authorization_code": AuthorizationCodeGrant(
            store.codes, store.refresh_tokens, store.users, store.sessions, tokens
        ),
        "refresh_token": refresh_grant,
    }
    return IdentityServices(
        hasher=hasher,
        policy=policy,
        users=users,
        login=PasswordLogin(
            store.users,
            users,
            store.login_failures,
            hasher,
            _throttle(login.account_throttle),
            _throttle(login.source_throttle),
        ),
        sessions=sessions,
        subjects=subjects,
        flow=flow,
        userinfo=UserinfoEndpoint(access_tokens, revocations, directory, store.users, subjects),
        backchannel=backchannel,
        refresh_grant=refresh_grant,
        users_reconciler=UsersReconciler(users, audit, clock),
        poster=poster,
        grants=grants,
        store=store,
    )


__all__ = ["IdentityServices", "build_identity_services"]
