"""SQLAlchemy Core implementations of the identity ports (users, sessions, codes, refresh tokens, ...)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Table, and_, delete, false, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from tessera.domain.authn.throttle import FailureRecord
from tessera.domain.codes import AuthorizationCode, CodeBinding, Redemption
from tessera.domain.consents import Consent
from tessera.domain.interactions import Interaction
from tessera.domain.refresh_tokens import RefreshToken
from tessera.domain.sessions import SsoSession
from tessera.domain.users import User, username_key
from tessera.errors import Conflict
from tessera.storage.sql import identity_tables as it
from tessera.storage.sql.refresh_rotator import Rotation, RotatorLanes, rotator_for
from tessera.storage.sql.repositories import _Repository


def _upsert(
    conn: AsyncConnection, table: Table, values: dict[str, Any], keys: Sequence[str], update_columns: Sequence[str]
) -> Any:
    """INSERT ... ON CONFLICT (keys) DO UPDATE/NOTHING, in the dialect's spelling."""
    module: Any = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = module.insert(table).values(**values)
    if update_columns:
        statement = statement.on_conflict_do_update(
            index_elements=list(keys), set_={c: statement.excluded[c] for c in update_columns}
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=list(keys))
    return conn.execute(statement)


# Users ------------------------------------------------------------------------------------------
def _user_values(user: User) -> dict[str, Any]:
    return {
        "username": user.username,
        "username_key": username_key(user.username),
        "profile": {
            "email": user.email,
            "email_verified": user.email_verified,
            "name": user.name,
            "groups": list(user.groups),
            "attributes": dict(user.attributes),
        },
        "disabled": user.disabled,
        "password_hash": user.password_hash,
        "declared_password_hash": user.declared_password_hash,
        "managed": user.managed,
    }


def _user(row: Any) -> User:
    profile = row["profile"] or {}
    return User(
        tenant_id=row["tenant_id"],
        user_id=row["user_id"],
        username=row["username"],
        email=profile.get("email"),
        email_verified=bool(profile.get("email_verified", False)),
        name=profile.get("name", ""),
        groups=tuple(profile.get("groups", ())),
        attributes=dict(profile.get("attributes", {})),
        disabled=row["disabled"],
        password_hash=row["password_hash"],
        declared_password_hash=row["declared_password_hash"],
        managed=row["managed"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


class SqlUserStore(_Repository):
    async def get(self, tenant_id: str, user_id: str) -> User | None:
        return await self._one(and_(it.users.c.tenant_id == tenant_id, it.users.c.user_id == user_id))

    async def find(self, tenant_id: str, username: str) -> User | None:
        return await self._one(
            and_(it.users.c.tenant_id == tenant_id, it.users.c.username_key == username_key(username))
        )

    async def _one(self, condition: Any) -> User | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(it.users).where(condition))).first()
        return _user(row._mapping) if row else None

    async def list(self, tenant_id: str) -> list[User]:
        query = select(it.users).where(it.users.c.tenant_id == tenant_id).order_by(it.users.c.username_key)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_user(r._mapping) for r in rows]

    async def create(self, user: User) -> None:
        now = self._now()
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    insert(it.users).values(
                        tenant_id=user.tenant_id,
                        user_id=user.user_id,
                        created_at=now,
                        updated_at=now,
                        **_user_values(user),
                    )
                )
        except IntegrityError:
            raise Conflict(f"user {user.username!r} already exists in tenant {user.tenant_id!r}") from None

    async def update(self, user: User) -> None:
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    update(it.users)
                    .where(and_(it.users.c.tenant_id == user.tenant_id, it.users.c.user_id == user.user_id))
                    .values(updated_at=self._now(), **_user_values(user))
                )
        except IntegrityError:
            raise Conflict(f"user {user.username!r} already exists in tenant {user.tenant_id!r}") from None

    async def replace_password_hash(self, tenant_id: str, user_id: str, old: str, new: str) -> bool:
        table = it.users
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(table)
                .where(and_(table.c.tenant_id == tenant_id, table.c.user_id == user_id, table.c.password_hash == old))
                .values(password_hash=new, updated_at=self._now())
            )
        return bool(result.rowcount)

    async def delete(self, tenant_id: str, user_id: str) -> bool:
        async with self._engine.begin() as conn:
            for table in (it.consents, it.refresh_tokens, it.subject_identifiers):
                await conn.execute(
                    delete(table).where(and_(table.c.tenant_id == tenant_id, table.c.user_id == user_id))
                )
            result = await conn.execute(
                delete(it.users).where(and_(it.users.c.tenant_id == tenant_id, it.users.c.user_id == user_id))
            )
        return bool(result.rowcount)


# Sessions ---------------------------------------------------------------------------------------
def _session(row: Any) -> SsoSession:
    return SsoSession(
        tenant_id=row["tenant_id"],
        session_id=row["session_id"],
        user_id=row["user_id"],
        auth_time=row["auth_time"],
        amr=tuple(row["amr"]),
        acr=row["acr"],
        created_at=row["created_at"],
        last_seen_at=row["last_seen_at"],
        expires_at=row["expires_at"],
        ended_at=row["ended_at"],
        source_ip=row["source_ip"],
    )


class SqlSessionStore(_Repository):
    _t = it.sso_sessions

    def _key(self, tenant_id: str, session_id: str) -> Any:
        return and_(self._t.c.tenant_id == tenant_id, self._t.c.session_id == session_id)

    async def create(self, session: SsoSession, cookie_hash: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(self._t).values(
                    tenant_id=session.tenant_id,
                    session_id=session.session_id,
                    cookie_hash=cookie_hash,
                    user_id=session.user_id,
                    auth_time=session.auth_time,
                    amr=list(session.amr),
                    acr=session.acr,
                    created_at=session.created_at,
                    last_seen_at=session.last_seen_at,
                    expires_at=session.expires_at,
                    ended_at=session.ended_at,
                    source_ip=session.source_ip,
                )
            )

    async def find_by_cookie(self, tenant_id: str, cookie_hash: str) -> SsoSession | None:
        query = select(self._t).where(and_(self._t.c.tenant_id == tenant_id, self._t.c.cookie_hash == cookie_hash))
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return _session(row._mapping) if row else None

    async def get(self, tenant_id: str, session_id: str) -> SsoSession | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(self._t).where(self._key(tenant_id, session_id)))).first()
        return _session(row._mapping) if row else None

    async def touch(self, tenant_id: str, session_id: str, now: float) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(update(self._t).where(self._key(tenant_id, session_id)).values(last_seen_at=now))

    async def update_authentication(self, session: SsoSession) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                update(self._t)
                .where(self._key(session.tenant_id, session.session_id))
                .values(
                    auth_time=session.auth_time,
                    amr=list(session.amr),
                    acr=session.acr,
                    last_seen_at=session.last_seen_at,
                )
            )

    async def end(self, tenant_id: str, session_id: str, now: float) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(self._t)
                .where(self._key(tenant_id, session_id), self._t.c.ended_at.is_(None))
                .values(ended_at=now)
            )
        return bool(result.rowcount)

    async def add_client(self, tenant_id: str, session_id: str, client_id: str) -> None:
        values = {"tenant_id": tenant_id, "session_id": session_id, "client_id": client_id}
        async with self._engine.begin() as conn:
            await _upsert(conn, it.session_clients, values, ("tenant_id", "session_id", "client_id"), ())

    async def clients(self, tenant_id: str, session_id: str) -> list[str]:
        table = it.session_clients
        query = (
            select(table.c.client_id)
            .where(and_(table.c.tenant_id == tenant_id, table.c.session_id == session_id))
            .order_by(table.c.client_id)
        )
        async with self._engine.connect() as conn:
            return [r.client_id for r in (await conn.execute(query)).all()]

    async def purge_expired(self, now: float) -> int:
        """Forget sessions past their absolute timeout (ended or not), with their client lists."""
        expired = select(self._t.c.session_id).where(self._t.c.expires_at < now)
        async with self._engine.begin() as conn:
            await conn.execute(delete(it.session_clients).where(it.session_clients.c.session_id.in_(expired)))
            result = await conn.execute(delete(self._t).where(self._t.c.expires_at < now))
        return int(result.rowcount or 0)

    # Interactions -----------------------------------------------------------------------------------

    async def list(self, tenant_id: str, user_id: str | None = None) -> list[SsoSession]:
        condition = self._t.c.tenant_id == tenant_id
        if user_id is not None:
            condition = and_(condition, self._t.c.user_id == user_id)
        query = select(self._t).where(condition, self._t.c.ended_at.is_(None)).order_by(self._t.c.created_at)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_session(r._mapping) for r in rows]


def _interaction(row: Any) -> Interaction:
    return Interaction(
        tenant_id=row["tenant_id"],
        handle_hash=row["handle_hash"],
        kind=row["kind"],
        client_id=row["client_id"],
        request=row["request"],
        browser_hash=row["browser_hash"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        user_id=row["user_id"],
        session_id=row["session_id"],
    )


class SqlInteractionStore(_Repository):
    _t = it.interactions

    def _key(self, tenant_id: str, handle_hash: str) -> Any:
        return and_(self._t.c.tenant_id == tenant_id, self._t.c.handle_hash == handle_hash)

    async def create(self, interaction: Interaction) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(insert(self._t).values(**_interaction_values(interaction)))

    async def get(self, tenant_id: str, handle_hash: str) -> Interaction | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(self._t).where(self._key(tenant_id, handle_hash)))).first()
        return _interaction(row._mapping) if row else None

    async def update(self, interaction: Interaction) -> None:
        values = _interaction_values(interaction)
        async with self._engine.begin() as conn:
            await conn.execute(
                update(self._t).where(self._key(interaction.tenant_id, interaction.handle_hash)).values(**values)
            )

    async def consume(self, tenant_id: str, handle_hash: str) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(delete(self._t).where(self._key(tenant_id, handle_hash)))
        return bool(result.rowcount)

    async def purge_expired(self, now: float) -> int:
        async with self._engine.begin() as conn:
            result = await conn.execute(delete(self._t).where(self._t.c.expires_at < now))
        return int(result.rowcount or 0)


def _interaction_values(i: Interaction) -> dict[str, Any]:
    return {
        "tenant_id": i.tenant_id,
        "handle_hash": i.handle_hash,
        "kind": i.kind,
        "client_id": i.client_id,
        "request": dict(i.request),
        "browser_hash": i.browser_hash,
        "user_id": i.user_id,
        "session_id": i.session_id,
        "created_at": i.created_at,
        "expires_at": i.expires_at,
    }


# Consents ---------------------------------------------------------------------------------------
class SqlConsentStore(_Repository):
    _t = it.consents

    async def get(self, tenant_id: str, user_id: str, client_id: str) -> Consent | None:
        query = select(self._t).where(
            and_(self._t.c.tenant_id == tenant_id, self._t.c.user_id == user_id, self._t.c.client_id == client_id)
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return _consent(row._mapping) if row else None

    async def put(self, consent: Consent) -> None:
        values = {
            "tenant_id": consent.tenant_id,
            "user_id": consent.user_id,
            "client_id": consent.client_id,
            "scopes": list(consent.scopes),
            "granted_at": consent.granted_at,
        }
        async with self._engine.begin() as conn:
            await _upsert(conn, self._t, values, ("tenant_id", "user_id", "client_id"), ("scopes", "granted_at"))

    async def list(self, tenant_id: str, user_id: str | None = None) -> list[Consent]:
        condition = self._t.c.tenant_id == tenant_id
        if user_id is not None:
            condition = and_(condition, self._t.c.user_id == user_id)
        query = select(self._t).where(condition).order_by(self._t.c.user_id, self._t.c.client_id)
        async with self._engine.connect() as conn:
            return [_consent(r._mapping) for r in (await conn.execute(query)).all()]

    async def revoke(self, tenant_id: str, user_id: str, client_id: str) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                delete(self._t).where(
                    and_(
                        self._t.c.tenant_id == tenant_id, self._t.c.user_id == user_id, self._t.c.client_id == client_id
                    )
                )
            )
        return bool(result.rowcount)


def _consent(row: Any) -> Consent:
    return Consent(row["tenant_id"], row["user_id"], row["client_id"], tuple(row["scopes"]), row["granted_at"])


# Authorization codes ----------------------------------------------------------------------------
def _code(row: Any) -> AuthorizationCode:
    return AuthorizationCode(
        tenant_id=row["tenant_id"],
        client_id=row["client_id"],
        redirect_uri=row["redirect_uri"],
        scopes=tuple(row["scopes"]),
        user_id=row["user_id"],
        subject=row["subject"],
        session_id=row["session_id"],
        auth_time=row["auth_time"],
        amr=tuple(row["amr"]),
        acr=row["acr"],
        issued_at=row["issued_at"],
        expires_at=row["expires_at"],
        nonce=row["nonce"],
        code_challenge=row["code_challenge"],
        code_challenge_method=row["code_challenge_method"],
        used_at=row["used_at"],
        access_token_id=row["access_token_id"],
        access_token_expires_at=row["access_token_expires_at"],
        family_id=row["family_id"],
    )


class SqlCodeStore(_Repository):
    _t = it.authorization_codes

    async def create(self, code: AuthorizationCode, code_hash: str) -> None:
        values = {
            "tenant_id": code.tenant_id,
            "code_hash": code_hash,
            "client_id": code.client_id,
            "redirect_uri": code.redirect_uri,
            "scopes": list(code.scopes),
            "user_id": code.user_id,
            "subject": code.subject,
            "session_id": code.session_id,
            "auth_time": code.auth_time,
            "amr": list(code.amr),
            "acr": code.acr,
            "nonce": code.nonce,
            "code_challenge": code.code_challenge,
            "code_challenge_method": code.code_challenge_method,
            "issued_at": code.issued_at,
            "expires_at": code.expires_at,
        }
        async with self._engine.begin() as conn:
            await conn.execute(insert(self._t).values(**values))

    async def consume(
        self, tenant_id: str, code_hash: str, now: float, binding: CodeBinding, redemption: Redemption
    ) -> AuthorizationCode | None:
        challenge = self._t.c.code_challenge
        statement = (
            update(self._t)
            .where(
                self._t.c.tenant_id == tenant_id,
                self._t.c.code_hash == code_hash,
                self._t.c.used_at.is_(None),
                self._t.c.expires_at > now,
                self._t.c.client_id == binding.client_id,
                self._t.c.redirect_uri == binding.redirect_uri,
                challenge.is_(None) if binding.code_challenge is None else challenge == binding.code_challenge,
            )
            .values(
                used_at=now,
                access_token_id=redemption.access_token_id,
                access_token_expires_at=redemption.access_token_expires_at,
                family_id=redemption.family_id,
            )
            .returning(*self._t.c)
        )
        async with self._engine.begin() as conn:
            row = (await conn.execute(statement)).first()
        return _code(row._mapping) if row else None

    async def get(self, tenant_id: str, code_hash: str) -> AuthorizationCode | None:
        query = select(self._t).where(and_(self._t.c.tenant_id == tenant_id, self._t.c.code_hash == code_hash))
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return _code(row._mapping) if row else None

    async def purge_expired(self, now: float, keep_used_for: float = 86_400.0) -> int:
        """Unused codes go once expired; used ones are kept a day, to recognise a late replay."""
        condition = and_(
            self._t.c.expires_at < now,
            (self._t.c.used_at.is_(None)) | (self._t.c.expires_at < now - keep_used_for),
        )
        async with self._engine.begin() as conn:
            result = await conn.execute(delete(self._t).where(condition))
        return int(result.rowcount or 0)


# Refresh tokens ---------------------------------------------------------------------------------
def _refresh(row: Any) -> RefreshToken:
    return RefreshToken(
        tenant_id=row["tenant_id"],
        family_id=row["family_id"],
        client_id=row["client_id"],
        user_id=row["user_id"],
        subject=row["subject"],
        session_id=row["session_id"],
        scopes=tuple(row["scopes"]),
        auth_time=row["auth_time"],
        amr=tuple(row["amr"]),
        acr=row["acr"],
        offline=row["offline"],
        issued_at=row["issued_at"],
        expires_at=row["expires_at"],
        access_token_id=row["access_token_id"],
        access_token_expires_at=row["access_token_expires_at"],
        used_at=row["used_at"],
        revoked_at=row["revoked_at"],
    )


def _refresh_values(token: RefreshToken, token_hash: str) -> dict[str, Any]:
    return {
        "tenant_id": token.tenant_id,
        "token_hash": token_hash,
        "family_id": token.family_id,
        "client_id": token.client_id,
        "user_id": token.user_id,
        "subject": token.subject,
        "session_id": token.session_id,
        "scopes": list(token.scopes),
        "auth_time": token.auth_time,
        "amr": list(token.amr),
        "acr": token.acr,
        "offline": token.offline,
        "issued_at": token.issued_at,
        "expires_at": token.expires_at,
        "access_token_id": token.access_token_id,
        "access_token_expires_at": token.access_token_expires_at,
        "used_at": token.used_at,
        "revoked_at": token.revoked_at,
    }


class SqlRefreshTokenStore(_Repository):
    _t = it.refresh_tokens
    _rotator: RotatorLanes | None = None

    async def create(self, token: RefreshToken, token_hash: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(insert(self._t).values(**_refresh_values(token, token_hash)))

    async def rotate(
        self,
        tenant_id: str,
        token_hash: str,
        client_id: str,
        now: float,
        successor: Callable[[RefreshToken], tuple[RefreshToken, str]],
        session_idle: float | None = None,
    ) -> tuple[RefreshToken, RefreshToken] | None:
        """One conditional UPDATE ... RETURNING and one INSERT, group-committed (see ``refresh_rotator``)."""
        if self._rotator is None:
            self._rotator = rotator_for(self._engine)
        return await self._rotator.rotate(Rotation(tenant_id, token_hash, client_id, now, successor, session_idle))

    async def close(self) -> None:
        if self._rotator is not None:
            await self._rotator.close()
            self._rotator = None

    async def get(self, tenant_id: str, token_hash: str) -> RefreshToken | None:
        query = select(self._t).where(and_(self._t.c.tenant_id == tenant_id, self._t.c.token_hash == token_hash))
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return _refresh(row._mapping) if row else None

    async def revoke_family(self, tenant_id: str, family_id: str, now: float) -> list[tuple[str, float]]:
        return await self._revoke(and_(self._t.c.tenant_id == tenant_id, self._t.c.family_id == family_id), now)

    async def bar_family(self, barrier: RefreshToken, token_hash: str) -> None:
        async with self._engine.begin() as conn:
            await _upsert(conn, self._t, _refresh_values(barrier, token_hash), ("tenant_id", "token_hash"), ())

    async def revoke_session(self, tenant_id: str, session_id: str, now: float) -> list[tuple[str, float]]:
        sessions = select(self._t.c.family_id).where(
            self._t.c.tenant_id == tenant_id, self._t.c.session_id == session_id, self._t.c.offline == false()
        )
        return await self._revoke(and_(self._t.c.tenant_id == tenant_id, self._t.c.family_id.in_(sessions)), now)

    async def revoke_user(self, tenant_id: str, user_id: str, now: float) -> list[tuple[str, float]]:
        return await self._revoke(and_(self._t.c.tenant_id == tenant_id, self._t.c.user_id == user_id), now)

    async def _revoke(self, condition: Any, now: float) -> list[tuple[str, float]]:
        async with self._engine.begin() as conn:
            issued = (
                await conn.execute(
                    select(self._t.c.access_token_id, self._t.c.access_token_expires_at).where(
                        condition, self._t.c.access_token_expires_at > now
                    )
                )
            ).all()
            await conn.execute(update(self._t).where(condition, self._t.c.revoked_at.is_(None)).values(revoked_at=now))
        return [(r.access_token_id, r.access_token_expires_at) for r in issued]

    async def purge_expired(self, now: float, keep_for: float = 86_400.0) -> int:
        """Expired tokens are kept a day longer, so that a late replay is still recognised as reuse."""
        async with self._engine.begin() as conn:
            result = await conn.execute(delete(self._t).where(self._t.c.expires_at < now - keep_for))
        return int(result.rowcount or 0)


# Pairwise subjects, throttling, tenant secrets --------------------------------------------------
class SqlSubjectStore(_Repository):
    _t = it.subject_identifiers

    async def remember(self, tenant_id: str, subject: str, user_id: str) -> None:
        values = {"tenant_id": tenant_id, "subject": subject, "user_id": user_id}
        async with self._engine.begin() as conn:
            await _upsert(conn, self._t, values, ("tenant_id", "subject"), ())

    async def user_for(self, tenant_id: str, subject: str) -> str | None:
        query = select(self._t.c.user_id).where(and_(self._t.c.tenant_id == tenant_id, self._t.c.subject == subject))
        async with self._engine.connect() as conn:
            value = (await conn.execute(query)).scalar()
        return str(value) if value is not None else None


def _failure_values(record: FailureRecord) -> dict[str, Any]:
    return {"count": record.count, "last_failure_at": record.last_failure_at, "locked_until": record.locked_until}


class SqlLoginFailureStore(_Repository):
    _t = it.login_failures

    async def get(self, tenant_id: str, keys: Sequence[str]) -> dict[str, FailureRecord]:
        query = select(self._t).where(and_(self._t.c.tenant_id == tenant_id, self._t.c.key.in_(list(keys))))
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {r.key: FailureRecord(r._mapping["count"], r.last_failure_at, r.locked_until) for r in rows}

    async def swap(self, tenant_id: str, key: str, seen: FailureRecord | None, new: FailureRecord | None) -> bool:
        """Replace the record ``seen`` (None: no row) by ``new`` (None: delete), only if it is still ``seen``.

        Compare-and-set in one statement, so two concurrent attempts never both act on one count:
        the loser gets False and reads again.
        """
        t = self._t
        where = and_(t.c.tenant_id == tenant_id, t.c.key == key)
        async with self._engine.begin() as conn:
            if seen is None:
                if new is None:
                    return True
                values = {"tenant_id": tenant_id, "key": key, **_failure_values(new)}
                result = await _upsert(conn, t, values, ("tenant_id", "key"), ())
                return bool(result.rowcount)
            same = and_(
                where,
                t.c.count == seen.count,
                t.c.last_failure_at == seen.last_failure_at,
                t.c.locked_until.is_(None) if seen.locked_until is None else t.c.locked_until == seen.locked_until,
            )
            if new is None:
                result = await conn.execute(delete(t).where(same))
            else:
                result = await conn.execute(update(t).where(same).values(**_failure_values(new)))
            return bool(result.rowcount)

    async def clear(self, tenant_id: str, key: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(delete(self._t).where(and_(self._t.c.tenant_id == tenant_id, self._t.c.key == key)))

    async def purge_expired(self, before: float) -> int:
        condition = and_(
            self._t.c.last_failure_at < before, (self._t.c.locked_until.is_(None)) | (self._t.c.locked_until < before)
        )
        async with self._engine.begin() as conn:
            result = await conn.execute(delete(self._t).where(condition))
        return int(result.rowcount or 0)


class SqlTenantSecretStore(_Repository):
    _t = it.tenant_secrets

    async def get_or_create(self, tenant_id: str, name: str, candidate: bytes) -> bytes:
        values = {"tenant_id": tenant_id, "name": name, "value": candidate}
        query = select(self._t.c.value).where(and_(self._t.c.tenant_id == tenant_id, self._t.c.name == name))
        async with self._engine.begin() as conn:
            await _upsert(conn, self._t, values, ("tenant_id", "name"), ())
            value = (await conn.execute(query)).scalar()
        assert value is not None
        return bytes(value)


__all__ = [
    "SqlCodeStore",
    "SqlConsentStore",
    "SqlInteractionStore",
    "SqlLoginFailureStore",
    "SqlRefreshTokenStore",
    "SqlSessionStore",
    "SqlSubjectStore",
    "SqlTenantSecretStore",
    "SqlUserStore",
]
