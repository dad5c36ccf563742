"""Users, passwords, login sessions and partners' API tokens.

Passwords are hashed with argon2. Session and API tokens are opaque random strings; only their
SHA-256 is stored, so a database leak reveals no usable token. Session tokens start ``dts_``,
API tokens ``dtk_`` (the first 12 characters are kept as the token's visible prefix).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from api.db import read_only
from api.domain import accounts, audit
from api.domain import validation as v
from api.domain.actors import (
    ANONYMOUS,
    TOKEN_SCOPES,
    Actor,
    actor_for_token,
    actor_for_user,
)
from api.domain.errors import DomainError, ErrorCode, invalid, not_found
from api.models import ApiToken, User, UserSession
from api.models.base import utcnow

SESSION_PREFIX = "dts_"
IMPERSONATION_TTL = 3600  # seconds: a "login as client" session lasts at most an hour
TOKEN_PREFIX = "dtk_"
VISIBLE_PREFIX_LEN = 12
MIN_PASSWORD = 8
LAST_USED_RESOLUTION = timedelta(minutes=1)
ROLES = ("operator", "reseller_owner", "reseller_staff", "client")

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a real password")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def csrf_token(secret_key: str, session_token: str) -> str:
    """The CSRF token that goes with a session cookie: derived, so nothing more is stored."""
    return hmac.new(secret_key.encode(), b"csrf:" + session_token.encode(), "sha256").hexdigest()


# --- users -------------------------------------------------------------------------------------


async def create_user(
    session: AsyncSession,
    actor: Actor,
    *,
    email: str,
    password: str,
    role: str,
    name: str = "",
    reseller_id: int | None = None,
    client_id: int | None = None,
) -> User:
    """Create a login. The operator creates anyone; a reseller owner creates its staff and its
    clients' portal users; nobody else creates users."""
    v.choice("role", role, ROLES)
    if actor.kind != "system":
        _check_may_create(actor, role, reseller_id)
    email = v.email("email", email, required=True)
    if len(password or "") < MIN_PASSWORD:
        raise invalid("password", f"a password of at least {MIN_PASSWORD} characters")
    if role == "client":
        if client_id is None:
            raise invalid("clientId", "a client login needs its client")
        client = await accounts.get_client(session, actor, client_id)
        reseller_id = client.reseller_id
    elif role in ("reseller_owner", "reseller_staff"):
        if reseller_id is None:
            raise invalid("resellerId", "a reseller login needs its reseller")
        await accounts.get_reseller(session, actor, reseller_id)
        client_id = None
    else:
        reseller_id = client_id = None
    if await session.scalar(select(User.id).where(User.email == email)) is not None:
        raise DomainError(ErrorCode.CONFLICT, "a user with this email exists", "email")
    user = User(
        email=email,
        password_hash=hash_password(password),
        name=v.text("name", name, max_len=200),
        role=role,
        reseller_id=reseller_id,
        client_id=client_id,
    )
    session.add(user)
    await session.flush()
    await audit.record(
        session,
        actor,
        subject_type="user",
        subject_id=user.id,
        action="user.created",
        reseller_id=reseller_id,
        client_id=client_id,
        after={"email": email, "role": role},
    )
    return user


def users_query(actor: Actor, reseller_id: int | None = None, role: str | None = None):
    """Logins the actor may list: every one for the operator (optionally one reseller's, or
    of one role); a reseller's user sees its own reseller's team (owners and staff)."""
    stmt = select(User)
    if role is not None:
        stmt = stmt.where(User.role == v.choice("role", role, ROLES))
    if actor.is_operator:
        actor.require("resellers:read")
        return stmt if reseller_id is None else stmt.where(User.reseller_id == reseller_id)
    if actor.kind != "reseller_user" or reseller_id not in (None, actor.reseller_id):
        return stmt.where(False)
    return stmt.where(
        User.reseller_id == actor.reseller_id,
        User.role.in_(("reseller_owner", "reseller_staff")),
    )


def _check_may_create(actor: Actor, role: str, reseller_id: int | None) -> None:
    if actor.kind == "operator":
        return
    if actor.role == "reseller_owner" and role in ("reseller_staff", "client"):
        if role == "reseller_staff" and reseller_id not in (None, actor.reseller_id):
            raise not_found("reseller", "resellerId")
        return
    actor.require("users:write")  # nobody else holds it: a clear PERMISSION_DENIED


# --- sessions ----------------------------------------------------------------------------------


@dataclass
class LoginResult:
    token: str
    csrf_token: str
    user: User
    expires_at: datetime


async def login(
    session: AsyncSession,
    email: str,
    password: str,
    *,
    ttl_seconds: int,
    secret_key: str,
) -> LoginResult:
    user = await session.scalar(select(User).where(User.email == (email or "").strip().lower()))
    if user is None:
        verify_password(_DUMMY_HASH, password or "")  # same time whether or not the user exists
        raise DomainError(ErrorCode.INVALID_CREDENTIALS, "wrong email or password")
    if not verify_password(user.password_hash, password or "") or not user.is_active:
        raise DomainError(ErrorCode.INVALID_CREDENTIALS, "wrong email or password")
    now = utcnow()
    result = await _open_session(session, user, now + timedelta(seconds=ttl_seconds), secret_key)
    user.last_login_at = now
    await session.flush()
    return result


async def _open_session(
    session: AsyncSession,
    user: User,
    expires: datetime,
    secret_key: str,
    impersonator_id: int | None = None,
) -> LoginResult:
    token = SESSION_PREFIX + secrets.token_urlsafe(32)
    session.add(
        UserSession(
            user_id=user.id,
            token_hash=hash_token(token),
            expires_at=expires,
            impersonator_id=impersonator_id,
        )
    )
    await session.flush()
    return LoginResult(token, csrf_token(secret_key, token), user, expires)


async def impersonate(
    session: AsyncSession,
    actor: Actor,
    client_id: int,
    *,
    ttl_seconds: int,
    secret_key: str,
) -> LoginResult:
    """A session of the client's portal user for a reseller owner or the operator to act as
    the client ("login as client"). It lasts at most :data:`IMPERSONATION_TTL` (and no longer
    than the person's own sessions), every action taken with it is audited with both the
    client's user and the person (``AuditEvent.impersonator_*``), and it may not change the
    client's password or users (``Actor.require_own_login``). Only a person may open one:
    ``clients:impersonate`` is no API token's scope."""
    actor.require("clients:impersonate")
    if actor.user_id is None:
        raise DomainError(ErrorCode.PERMISSION_DENIED, "only a person may log in as a client")
    actor.require_own_login()  # not from a session that is itself someone else's
    client = await accounts.get_client(session, actor, client_id)
    user = await session.scalar(
        select(User)
        .where(User.client_id == client.id, User.role == "client", User.is_active.is_(True))
        .order_by(User.id)
        .limit(1)
    )
    if user is None:
        raise invalid("clientId", "this client has no portal login to act as")
    expires = utcnow() + timedelta(seconds=min(ttl_seconds, IMPERSONATION_TTL))
    result = await _open_session(session, user, expires, secret_key, impersonator_id=actor.user_id)
    await audit.record(
        session,
        actor,
        subject_type="client",
        subject_id=client.id,
        action="client.impersonation_started",
        reseller_id=client.reseller_id,
        client_id=client.id,
        after={"user": user.email, "expiresAt": expires.isoformat()},
    )
    return result


async def logout(session: AsyncSession, actor: Actor) -> bool:
    if actor.session_id is None:
        return False
    user_session = await session.get(UserSession, actor.session_id)
    if user_session is not None and user_session.revoked_at is None:
        user_session.revoked_at = utcnow()
        await session.flush()
    return True


async def actor_for_request(engine: AsyncEngine, token: str | None) -> Actor:
    """The actor a bearer token or session cookie stands for; anonymous when it is unknown,
    expired or revoked. Read without a write lock (``read_only``); an API token's
    ``last_used_at`` is then written, in a short transaction of its own, only when the stored
    one is older than ``LAST_USED_RESOLUTION``: not a write per request."""
    if not token:
        return ANONYMOUS
    now = utcnow()
    async with AsyncSession(read_only(engine)) as session:
        actor, last_used = await _actor_from_token(session, token, now)
    if actor.token_id is not None and (last_used is None or now - last_used > LAST_USED_RESOLUTION):
        async with AsyncSession(engine) as session, session.begin():
            await session.execute(
                update(ApiToken)
                .where(
                    ApiToken.id == actor.token_id,
                    or_(
                        ApiToken.last_used_at.is_(None),
                        ApiToken.last_used_at < now - LAST_USED_RESOLUTION,
                    ),
                )
                .values(last_used_at=now)
            )
    return actor


async def _actor_from_token(
    session: AsyncSession, token: str, now: datetime
) -> tuple[Actor, datetime | None]:
    """The token's actor, and when an API token was last used."""
    digest = hash_token(token)
    if token.startswith(SESSION_PREFIX):
        row = (
            await session.execute(
                select(UserSession, User)
                .join(User, User.id == UserSession.user_id)
                .where(UserSession.token_hash == digest)
            )
        ).first()
        if row is None:
            return ANONYMOUS, None
        user_session, user = row
        if user_session.revoked_at or user_session.expires_at <= now or not user.is_active:
            return ANONYMOUS, None
        impersonator = None
        if user_session.impersonator_id is not None:
            impersonator = await session.get(User, user_session.impersonator_id)
            if impersonator is None or not impersonator.is_active:
                return ANONYMOUS, None
        return actor_for_user(user, user_session.id, impersonator), None
    if token.startswith(TOKEN_PREFIX):
        api_token = await session.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
        if api_token is None or api_token.revoked_at is not None:
            return ANONYMOUS, None
        if api_token.expires_at is not None and api_token.expires_at <= now:
            return ANONYMOUS, None
        return actor_for_token(api_token), api_token.last_used_at
    return ANONYMOUS, None


# --- API tokens --------------------------------------------------------------------------------


@dataclass
class NewToken:
    token: str  # shown once
    api_token: ApiToken


async def create_api_token(
    session: AsyncSession,
    actor: Actor,
    *,
    name: str,
    scopes: list[str],
    expires_at: datetime | None = None,
) -> NewToken:
    actor.require("tokens:manage")
    name = v.text("name", name, max_len=200, required=True)
    unknown = sorted(set(scopes) - TOKEN_SCOPES)
    if not scopes or unknown:
        raise invalid(
            "scopes",
            f"choose scopes from: {', '.join(sorted(TOKEN_SCOPES))}"
            + (f" (unknown: {', '.join(unknown)})" if unknown else ""),
        )
    if expires_at is not None and expires_at <= utcnow():
        raise invalid("expiresAt", "the expiry must be in the future")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    api_token = ApiToken(
        reseller_id=actor.reseller_id,
        created_by_id=actor.user_id,
        name=name,
        prefix=token[:VISIBLE_PREFIX_LEN],
        token_hash=hash_token(token),
        scopes=" ".join(sorted(set(scopes))),
        expires_at=expires_at,
    )
    session.add(api_token)
    await session.flush()
    await audit.record(
        session,
        actor,
        subject_type="api_token",
        subject_id=api_token.id,
        action="api_token.created",
        reseller_id=actor.reseller_id,
        after={"name": name, "scopes": api_token.scopes, "prefix": api_token.prefix},
    )
    return NewToken(token, api_token)


def api_tokens_query(actor: Actor):
    if not actor.can("tokens:manage"):
        return select(ApiToken).where(False)
    return select(ApiToken).where(ApiToken.reseller_id == actor.reseller_id)


async def get_api_token(session: AsyncSession, actor: Actor, token_id: int) -> ApiToken:
    token = await session.get(ApiToken, token_id)
    if token is None or not actor.can("tokens:manage") or token.reseller_id != actor.reseller_id:
        raise not_found("API token")
    return token


async def revoke_api_token(session: AsyncSession, actor: Actor, token_id: int) -> ApiToken:
    actor.require("tokens:manage")
    token = await get_api_token(session, actor, token_id)
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        await session.flush()
        await audit.record(
            session,
            actor,
            subject_type="api_token",
            subject_id=token.id,
            action="api_token.revoked",
            reseller_id=token.reseller_id,
            before={"revoked": False},
            after={"revoked": True},
        )
    return token
