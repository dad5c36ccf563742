"""Login throttling: failed logins are counted per account (the email tried) and per client
address, with the ``limits`` package's moving windows; when a window is full, logins for that
account or from that address are refused until it frees, without looking at the password.

The windows grow: by default an account gets 3 failures a minute, 5 per 15 minutes and 10 an
hour (``DIALTONE_LOGIN_LIMITS_ACCOUNT``), an address 10 a minute, 30 per 15 minutes and 100 a
day (``DIALTONE_LOGIN_LIMITS_ADDRESS``), each a ``limits`` string such as ``5 per 15 minutes``
joined by ``;``. A first few mistakes cost a short wait, a run of them a lockout window. A
refused attempt is not counted (so a lockout ends when its window frees), a successful login
clears the account's count (not the address's). An unknown email is counted like a known one,
so the answers reveal nothing. Every lockout (the failure that fills a window) is audited
(``login.locked``), in a transaction of its own.

Counts live in the process's memory by default (``memory://``); ``DIALTONE_LOGIN_THROTTLE_STORAGE``
may point at Redis (``redis://127.0.0.1:6379/0``), which every process of an installation then
shares. This is the one place the login path is throttled: the ``login`` mutation goes through
:func:`login`, so the API, batched or aliased ``login`` fields (each counts) and the portals
are all covered.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse, parse_many
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.db import transaction
from api.domain import audit, auth
from api.domain.actors import Actor
from api.domain.errors import DomainError, ErrorCode
from api.models import User

DEFAULT_ACCOUNT_LIMITS = "3 per minute; 5 per 15 minutes; 10 per hour"
DEFAULT_ADDRESS_LIMITS = "10 per minute; 30 per 15 minutes; 100 per day"
DEFAULT_STORAGE = "memory://"
RESET_EMAILS = "3 per hour"  # password reset emails per login email


class Throttled(DomainError):
    """Too many failed logins: try again in ``retry_after`` seconds."""

    def __init__(self, retry_after: int):
        minutes = max(1, math.ceil(retry_after / 60))
        super().__init__(
            ErrorCode.THROTTLED,
            f"too many failed logins; try again in {minutes} minute{'s' if minutes > 1 else ''}",
        )
        self.retry_after = retry_after


def _storage_uri(uri: str) -> str:
    uri = (uri or DEFAULT_STORAGE).strip()
    return uri if uri.startswith("async+") else "async+" + uri


@dataclass
class LoginThrottle:
    """The counters of failed logins (one per app, see the module docstring)."""

    storage_uri: str = DEFAULT_STORAGE
    account_limits: str = DEFAULT_ACCOUNT_LIMITS
    address_limits: str = DEFAULT_ADDRESS_LIMITS

    def __post_init__(self) -> None:
        uri = _storage_uri(self.storage_uri)
        options = {"implementation": "redispy"} if "redis" in uri.split("://", 1)[0] else {}
        self.storage = storage_from_string(uri, key_prefix="dialtone-login", **options)
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.account = parse_many(self.account_limits)
        self.address = parse_many(self.address_limits)
        self.reset_emails = parse(RESET_EMAILS)

    def _keys(self, email: str, address: str | None) -> list[tuple[str, list[RateLimitItem]]]:
        digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
        keys = [("account:" + digest, self.account)]
        if address:
            keys.append(("address:" + address, self.address))
        return keys

    async def wait(self, email: str, address: str | None) -> int:
        """Seconds before this account may try again from this address (0: now)."""
        now = time.time()
        wait = 0.0
        for key, limits in self._keys(email, address):
            for limit in limits:
                if not await self.limiter.test(limit, key):
                    stats = await self.limiter.get_window_stats(limit, key)
                    wait = max(wait, stats.reset_time - now)
        return math.ceil(wait) if wait > 0 else 0

    async def failed(self, email: str, address: str | None) -> list[str]:
        """Count a failure; the scopes (``account``, ``address``) it locked."""
        locked = []
        for key, limits in self._keys(email, address):
            full = False
            for limit in limits:
                await self.limiter.hit(limit, key)
                full = full or not await self.limiter.test(limit, key)
            if full:
                locked.append(key.split(":", 1)[0])
        return locked

    async def reset_email_allowed(self, email: str) -> bool:
        """Whether one more password reset email may go to this address (counted)."""
        digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
        return await self.limiter.hit(self.reset_emails, "reset:" + digest)

    async def succeeded(self, email: str) -> None:
        """A right password: the account's mistakes are forgiven (the address's are not)."""
        key, limits = self._keys(email, None)[0]
        for limit in limits:
            await self.limiter.clear(limit, key)


async def login(
    sessions: async_sessionmaker[AsyncSession],
    throttle: LoginThrottle,
    *,
    email: str,
    password: str,
    address: str | None,
    ttl_seconds: int,
    secret_key: str,
) -> auth.LoginResult:
    """``auth.login`` behind the throttle: raises :class:`Throttled` while a window is full,
    counts a wrong email or password, audits a lockout."""
    email = (email or "").strip().lower()
    wait = await throttle.wait(email, address)
    if wait:
        raise Throttled(wait)
    try:
        async with transaction(sessions) as session:
            result = await auth.login(
                session, email, password, ttl_seconds=ttl_seconds, secret_key=secret_key
            )
    except DomainError as exc:
        if exc.code == ErrorCode.INVALID_CREDENTIALS:
            locked = await throttle.failed(email, address)
            if locked:
                await _audit_lockout(
                    sessions, email, address, locked, await throttle.wait(email, address)
                )
        raise
    await throttle.succeeded(email)
    return result


async def _audit_lockout(
    sessions: async_sessionmaker[AsyncSession],
    email: str,
    address: str | None,
    locked: list[str],
    retry_after: int,
) -> None:
    async with transaction(sessions) as session:
        user = await session.scalar(select(User).where(User.email == email))
        actor = Actor(kind="anonymous", label=f"login from {address or 'unknown address'}")
        await audit.record(
            session,
            actor,
            subject_type="user" if user is not None else "login",
            subject_id=user.id if user is not None else 0,
            action="login.locked",
            reseller_id=user.reseller_id if user is not None else None,
            client_id=user.client_id if user is not None else None,
            after={
                "email": email,
                "address": address,
                "locked": locked,
                "retryAfterSeconds": retry_after,
            },
        )
