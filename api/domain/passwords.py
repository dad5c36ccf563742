"""Passwords: the rule every new password keeps, "forgot password" by email, and a signed-in
user's change of its own password.

Reset links. A client portal user who forgot its password gives its email on its reseller's
host; if it is an active client login of that reseller, an email in the client's language
(the portals' gettext catalogues, ``frontends/locale``) carries a link to that host with a
token. The answer is the same whether or not an email went, so nothing is revealed; at most
three go per email address and hour (``api.domain.throttle``; more requests are silently
dropped).

The token is ``<user id>.<expiry>.<signature>``: an HMAC-SHA256, under the secret key, of the
user id, the expiry (``DIALTONE_PASSWORD_RESET_TTL_SECONDS`` after the request, an hour by
default) and the user's current password hash. Nothing is stored: setting a password (through
the link or any other way) changes the hash, so every link issued before stops working at once;
a link is thus used once, and never after it expired or was forged. Setting a password ends
every session of the user (the link) or every other session (a change while signed in).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from babel.support import NullTranslations, Translations
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.db import PROJECT_ROOT
from api.domain import audit, auth, notifications
from api.domain.actors import ANONYMOUS, Actor
from api.domain.errors import DomainError, ErrorCode, invalid
from api.models import Brand, Client, User, UserSession
from api.models.base import utcnow

MAX_PASSWORD = 200
LOCALE_DIR = PROJECT_ROOT / "frontends" / "locale"
LANGUAGES = ("en", "fr", "ru", "he")
RESET_PATH = "/password/reset"
BAD_LINK = "this link is not valid any more (used, expired or replaced): ask for a new one"


def check_new(field: str, password: str) -> str:
    """A new password: 8 to 200 characters (the rule of every login's password)."""
    if len(password or "") < auth.MIN_PASSWORD:
        raise invalid(field, f"a password of at least {auth.MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise invalid(field, f"a password of at most {MAX_PASSWORD} characters")
    return password


@cache
def translations(lang: str) -> NullTranslations:
    """The portals' catalogue of a language (English: the messages themselves)."""
    if lang not in LANGUAGES or lang == "en":
        return NullTranslations()
    return Translations.load(LOCALE_DIR, [lang], domain="messages")


# --- tokens ------------------------------------------------------------------------------------


def _signature(secret_key: str, user: User, expires: int) -> str:
    message = f"password-reset:{user.id}:{expires}:{user.password_hash}".encode()
    digest = hmac.new(secret_key.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def reset_token(secret_key: str, user: User, expires_at: datetime) -> str:
    expires = int(expires_at.timestamp())
    return f"{user.id}.{expires}.{_signature(secret_key, user, expires)}"


async def user_of_token(
    session: AsyncSession, secret_key: str, token: str, now: datetime | None = None
) -> User:
    """The user a reset token is for; a forged, expired or spent token is refused."""
    parts = (token or "").strip().split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        raise invalid("token", BAD_LINK)
    user = await session.get(User, int(parts[0]))
    expires = int(parts[1])
    if user is None or not user.is_active:
        raise invalid("token", BAD_LINK)
    if not hmac.compare_digest(parts[2], _signature(secret_key, user, expires)):
        raise invalid("token", BAD_LINK)
    if expires <= (now or utcnow()).timestamp():
        raise invalid("token", BAD_LINK)
    return user


# --- forgot password ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ResetRequest:
    """Who asked, where: ``reseller_id`` is the reseller whose host the request came to."""

    email: str
    reseller_id: int | None
    base_url: str  # e.g. https://portal.acme.test (no trailing slash)


async def request_reset(
    session: AsyncSession,
    request: ResetRequest,
    *,
    secret_key: str,
    ttl_seconds: int,
    allowed: bool = True,
) -> bool:
    """Queue a reset email when the address is an active client login of the host's reseller
    (and ``allowed``: under the hourly cap); whether one was queued (never told to the user)."""
    email = (request.email or "").strip().lower()
    if not allowed or request.reseller_id is None or not email or len(email) > 320:
        return False
    row = (
        await session.execute(
            select(User, Client)
            .join(Client, Client.id == User.client_id)
            .where(
                User.email == email,
                User.role == "client",
                User.is_active.is_(True),
                Client.reseller_id == request.reseller_id,
                Client.deleted_at.is_(None),
            )
        )
    ).first()
    if row is None:
        return False
    user, client = row
    brand = await session.scalar(select(Brand).where(Brand.reseller_id == client.reseller_id))
    lang = _language(client.language, brand.default_language if brand else "")
    expires_at = utcnow() + timedelta(seconds=ttl_seconds)
    token = reset_token(secret_key, user, expires_at)
    link = f"{request.base_url}{RESET_PATH}?token={token}&lang={lang}"  # the page speaks it too
    await notifications.send_email(
        session,
        reseller_id=client.reseller_id,
        email=_reset_email(lang, user.email, link, ttl_seconds),
    )
    await audit.record(
        session,
        ANONYMOUS,
        subject_type="user",
        subject_id=user.id,
        action="user.password_reset_requested",
        reseller_id=client.reseller_id,
        client_id=client.id,
        after={"expiresAt": expires_at.astimezone(UTC).isoformat()},
    )
    return True


def _language(*codes: str) -> str:
    """The first of the codes we speak (``fr-CA`` counts as ``fr``), else English."""
    for code in codes:
        base = (code or "").replace("_", "-").split("-")[0].lower()
        if base in LANGUAGES:
            return base
    return "en"


def _reset_email(lang: str, email: str, link: str, ttl_seconds: int) -> notifications.Email:
    t = translations(lang)
    minutes = max(1, ttl_seconds // 60)
    subject = t.gettext("Choose a new password")
    text = "\n\n".join(
        [
            t.gettext("Someone asked to reset the password of %(email)s.") % {"email": email},
            t.ngettext(
                "To choose a new password, open this link within %(num)d minute:",
                "To choose a new password, open this link within %(num)d minutes:",
                minutes,
            )
            % {"num": minutes},
            link,
            t.gettext(
                "The link works once. If you did not ask for it, ignore this email: your"
                " password stays as it is."
            ),
        ]
    )
    return notifications.Email(to=email, subject=subject, text=text + "\n")


# --- setting a password ------------------------------------------------------------------------


async def _set(session: AsyncSession, user: User, password: str, *, keep_session: int | None):
    user.password_hash = auth.hash_password(password)
    ended = await session.execute(
        update(UserSession)
        .where(
            UserSession.user_id == user.id,
            UserSession.revoked_at.is_(None),
            *([UserSession.id != keep_session] if keep_session is not None else []),
        )
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    await session.flush()
    return ended.rowcount


async def reset(session: AsyncSession, *, token: str, password: str, secret_key: str) -> User:
    """Set a new password through a reset link; every session of the user ends."""
    user = await user_of_token(session, secret_key, token)
    check_new("password", password)
    ended = await _set(session, user, password, keep_session=None)
    await audit.record(
        session,
        ANONYMOUS,
        subject_type="user",
        subject_id=user.id,
        action="user.password_reset",
        reseller_id=user.reseller_id,
        client_id=user.client_id,
        after={"sessionsEnded": ended},
    )
    return user


async def change(
    session: AsyncSession, actor: Actor, *, current_password: str, new_password: str
) -> User:
    """A signed-in user changes its own password (the current one required); its other
    sessions end, this one stays."""
    if actor.user_id is None or actor.session_id is None:
        raise DomainError(
            ErrorCode.UNAUTHENTICATED, "sign in with your email and password to change it"
        )
    actor.require_own_login()
    user = await session.get(User, actor.user_id)
    if user is None or not auth.verify_password(user.password_hash, current_password or ""):
        raise invalid("currentPassword", "the current password is wrong")
    check_new("newPassword", new_password)
    if auth.verify_password(user.password_hash, new_password):
        raise DomainError(ErrorCode.CONFLICT, "the new password is the current one", "newPassword")
    ended = await _set(session, user, new_password, keep_session=actor.session_id)
    await audit.record(
        session,
        actor,
        subject_type="user",
        subject_id=user.id,
        action="user.password_changed",
        reseller_id=user.reseller_id,
        client_id=user.client_id,
        after={"sessionsEnded": ended},
    )
    return user
