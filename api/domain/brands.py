"""Brands and the hostnames they are served on.

Brand. A reseller's brand holds what its portals show (display name, logo, five colors, support
email, footer, default language) and its PayPal settings (receiver email, currency, the whole
amounts a top-up form offers). The operator's default brand (the row without a reseller)
serves the platform host. A reseller without a row yet shows the default theme under its own
name. Colors are ``#rrggbb`` only (``#rgb`` is expanded, an empty value means the default
theme's): never raw CSS. A logo is a PNG, JPEG, GIF or WebP image recognised by its own bytes
(``api.domain.images``), within the size limits in settings. For a reseller, PayPal's currency
is the reseller's own (deposits are credited in it).

Hostnames. A reseller orders a custom hostname; the one-time fee in settings
(``DIALTONE_HOSTNAME_FEE``, in the reseller's currency) is charged to its balance through the
ledger (``payments.hostname_fee``), and the order is refused with nothing changed when the
balance does not cover it. A hostname is pending until its DNS A records all point at the
platform's addresses (``DIALTONE_PLATFORM_ADDRESSES``, checked through a ``dns.Resolver``) or
the operator approves it; then it is active and resolves to its reseller's brand. A hostname
belongs to one reseller at most. Unknown and pending hosts resolve to nothing.

Hosts are normalised before they are stored or compared: lower case, no port, no trailing
dot, international names in their IDNA (punycode) form.

Caching. Every change that can alter what a host resolves to or how a brand looks bumps the
``branding`` cache stamp in the same transaction (``api.domain.stamps``); ``branding/`` keeps
its host → brand cache per process and drops it when the stamp moved.

Who may do what: ``brand:write`` edits a brand and orders hostnames (a reseller its own, the
operator any, naming the reseller; the operator's own brand when it names none); ``brand:read``
reads them. Only the operator approves a hostname. Another reseller's brand or hostname is not
found.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import idna
from sqlalchemy import Select, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api import money
from api.domain import accounts, audit, images, payments, stamps
from api.domain import validation as v
from api.domain.actors import SYSTEM, Actor
from api.domain.dns import Resolver, SystemResolver
from api.domain.errors import DomainError, DomainErrors, ErrorCode, invalid, not_found
from api.models import Brand, Hostname, Reseller
from api.models.base import utcnow
from api.settings import Settings

STAMP = stamps.BRANDING
HOSTNAME_STATUSES = ("pending", "active")
COLOR_FIELDS = (
    "header_background",
    "title_background",
    "text_color",
    "content_background",
    "content_text",
)
BRAND_AUDIT_FIELDS = (
    "display_name",
    *COLOR_FIELDS,
    "support_email",
    "footer_text",
    "default_language",
    "paypal_receiver_email",
    "paypal_currency",
    "paypal_amounts",
)
LOGO_AUDIT_FIELDS = ("logo_type", "logo_width", "logo_height", "logo_sha256")
HOSTNAME_AUDIT_FIELDS = ("host", "status", "activated_by", "dns_addresses")
MAX_PAYPAL_AMOUNTS = 12
MAX_PAYPAL_AMOUNT = 100_000  # whole units
DNS_RECHECK_EVERY = timedelta(minutes=10)  # how often the worker looks at a pending hostname

# the default theme's colors (an empty brand color means these)
DEFAULT_COLORS = {
    "header_background": "#1f2a44",
    "title_background": "#2f5d8a",
    "text_color": "#ffffff",
    "content_background": "#ffffff",
    "content_text": "#1b1f24",
}
# (text, background) pairs drawn on each other; each must reach WCAG AA for normal text
CONTRAST_PAIRS = (
    ("text_color", "header_background"),
    ("text_color", "title_background"),
    ("content_text", "content_background"),
)
MIN_CONTRAST = 4.5
_CAMEL = {
    "header_background": "headerBackground",
    "title_background": "titleBackground",
    "text_color": "textColor",
    "content_background": "contentBackground",
    "content_text": "contentText",
}

HEX_COLOR_RE = re.compile(r"#(?:[0-9a-f]{3}|[0-9a-f]{6})")  # whole values: fullmatch
_LABEL_RE = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_PORT_RE = re.compile(r":[0-9]{1,5}\Z")


# --- field checks ------------------------------------------------------------------------------


def color(field: str, value: str) -> str:
    """A ``#rrggbb`` color (``#rgb`` expanded, lower case), or empty for the default."""
    value = (value or "").strip().lower()
    if not value:
        return ""
    if not HEX_COLOR_RE.fullmatch(value):
        raise invalid(field, "a hex color such as #1a2b3c")
    if len(value) == 4:
        value = "#" + "".join(ch * 2 for ch in value[1:])
    return value


def _luminance(hex_color: str) -> float:
    """WCAG 2.x relative luminance of a ``#rrggbb`` color."""
    channels = []
    for i in (1, 3, 5):
        c = int(hex_color[i : i + 2], 16) / 255
        channels.append(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4)
    r, g, b = channels
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(first: str, second: str) -> float:
    """The WCAG 2.x contrast ratio of two ``#rrggbb`` colors: from 1 (same) to 21 (black on
    white), the same whichever comes first."""
    a, b = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def check_contrast(brand: Brand | None, fields: dict[str, Any]) -> None:
    """Refuse colors whose text would not be readable on its background (WCAG AA, 4.5:1): each
    pair with a color being changed is checked with the brand's other color as it will be (the
    default theme's where none is set). Errors name the pair and its ratio."""

    def effective(name: str) -> str:
        if name in fields:
            return fields[name] or DEFAULT_COLORS[name]
        return (getattr(brand, name, "") if brand is not None else "") or DEFAULT_COLORS[name]

    errors = []
    for text, background in CONTRAST_PAIRS:
        if text not in fields and background not in fields:
            continue
        ratio = contrast_ratio(effective(text), effective(background))
        if ratio < MIN_CONTRAST:
            field = text if text in fields else background
            errors.append(
                invalid(
                    _CAMEL[field],
                    f"{_CAMEL[text]} {effective(text)} on {_CAMEL[background]} "
                    f"{effective(background)} has a contrast ratio of "
                    f"{math.floor(ratio * 100) / 100:.2f}:1; WCAG AA needs at least "
                    f"{MIN_CONTRAST}:1",
                )
            )
    if errors:
        raise DomainErrors(errors)


def paypal_amounts(field: str, value: Any) -> list[int]:
    """Whole amounts a top-up form offers: distinct, from 1 to 100,000, sorted."""
    if not isinstance(value, list | tuple):
        raise invalid(field, "a list of whole amounts")
    if len(value) > MAX_PAYPAL_AMOUNTS:
        raise invalid(field, f"at most {MAX_PAYPAL_AMOUNTS} amounts")
    out: set[int] = set()
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int):
            raise invalid(field, "amounts are whole numbers, such as 10 or 25")
        if not 1 <= item <= MAX_PAYPAL_AMOUNT:
            raise invalid(field, f"each amount is from 1 to {MAX_PAYPAL_AMOUNT}")
        out.add(item)
    return sorted(out)


def _host_labels(host: str) -> str | None:
    """``host`` in its ASCII form if it is a valid DNS name, else None."""
    if not host.isascii():
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError):
            return None
    labels = host.split(".")
    if len(host) > 253 or not all(_LABEL_RE.fullmatch(label) for label in labels):
        return None
    for label in labels:
        if label.startswith("xn--"):
            try:
                idna.decode(label)
            except (idna.IDNAError, UnicodeError):
                return None
    return host


def request_host(raw: str | None) -> str | None:
    """A request's Host (or X-Forwarded-Host) value normalised, or None when it names no valid
    DNS name (an IP literal, garbage): such a host never resolves to a brand."""
    host = (raw or "").strip().lower()
    if not host or host.startswith("["):
        return None
    host = _PORT_RE.sub("", host)
    if host.endswith("."):
        host = host[:-1]
    if not host or ":" in host:
        return None
    return _host_labels(host)


def normalise_host(field: str, raw: str) -> str:
    """A hostname a reseller orders: a valid DNS name of at least two labels, not an IP."""
    host = request_host(raw)
    if host is None or "." not in host:
        raise invalid(field, "a hostname such as portal.example.com")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host
    raise invalid(field, "a hostname, not an IP address")


def _clean_brand(data: dict[str, Any], reseller: Reseller | None) -> dict[str, Any]:
    checks: dict[str, Callable[[Any], Any]] = {
        "display_name": lambda x: v.text("displayName", x, max_len=200),
        "header_background": lambda x: color("headerBackground", x),
        "title_background": lambda x: color("titleBackground", x),
        "text_color": lambda x: color("textColor", x),
        "content_background": lambda x: color("contentBackground", x),
        "content_text": lambda x: color("contentText", x),
        "support_email": lambda x: v.email("supportEmail", x),
        "footer_text": lambda x: v.text("footerText", x, max_len=500),
        "default_language": lambda x: v.language("defaultLanguage", x),
        "paypal_receiver_email": lambda x: v.email("paypalReceiverEmail", x),
        "paypal_currency": lambda x: _paypal_currency(x, reseller),
        "paypal_amounts": lambda x: paypal_amounts("paypalAmounts", x),
    }
    return v.clean(data, checks)


def _paypal_currency(value: str, reseller: Reseller | None) -> str:
    currency = v.currency("paypalCurrency", value)
    if reseller is not None and currency != reseller.currency:
        raise invalid(
            "paypalCurrency",
            f"PayPal payments are credited in the reseller's currency, {reseller.currency}",
        )
    return currency


# --- brands ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BrandOwner:
    """A brand and whose it is: ``reseller`` None is the operator. ``brand`` is None while
    nothing was ever set (the default theme applies)."""

    reseller: Reseller | None
    brand: Brand | None

    @property
    def reseller_id(self) -> int | None:
        return self.reseller.id if self.reseller else None


def _owned_by(reseller_id: int | None):
    """The condition for a reseller's brand row, or the operator's (None)."""
    return Brand.reseller_id.is_(None) if reseller_id is None else Brand.reseller_id == reseller_id


async def _brand_row(session: AsyncSession, reseller_id: int | None) -> Brand | None:
    return await session.scalar(select(Brand).where(_owned_by(reseller_id)))


async def _brand_for_write(session: AsyncSession, reseller: Reseller | None) -> Brand:
    """The brand row, created on first change. The stamp is bumped first: its row lock
    serialises writers, so two first changes of the operator's brand never make two rows."""
    await stamps.bump(session, STAMP)
    reseller_id = reseller.id if reseller else None
    brand = await _brand_row(session, reseller_id)
    if brand is not None:
        return brand
    brand = Brand(reseller_id=reseller_id, paypal_amounts=[])
    session.add(brand)
    await session.flush()
    return brand


async def read_brand(session: AsyncSession, actor: Actor, reseller_id: int | None) -> BrandOwner:
    reseller = await accounts.acting_reseller(session, actor, reseller_id, "brand:read")
    return BrandOwner(reseller, await _brand_row(session, reseller.id if reseller else None))


async def update_brand(
    session: AsyncSession, actor: Actor, reseller_id: int | None, data: dict[str, Any]
) -> BrandOwner:
    reseller = await accounts.acting_reseller(session, actor, reseller_id, "brand:write")
    fields = _clean_brand(data, reseller)
    brand = await _brand_for_write(session, reseller)
    check_contrast(brand, fields)
    await audit.apply_changes(
        session,
        actor,
        brand,
        fields,
        audited=BRAND_AUDIT_FIELDS,
        subject_type="brand",
        reseller_id=brand.reseller_id,
    )
    return BrandOwner(reseller, brand)


async def set_logo(
    session: AsyncSession,
    actor: Actor,
    reseller_id: int | None,
    content: bytes | None,
    declared_type: str | None,
    *,
    settings: Settings,
) -> BrandOwner:
    """Replace the logo with an uploaded image, or remove it (``content`` None)."""
    reseller = await accounts.acting_reseller(session, actor, reseller_id, "brand:write")
    fields: dict[str, Any] = {
        "logo": None,
        "logo_type": "",
        "logo_width": 0,
        "logo_height": 0,
        "logo_sha256": "",
    }
    if content is not None:
        info = check_logo(content, declared_type, settings=settings)
        fields = {
            "logo": content,
            "logo_type": info.media_type,
            "logo_width": info.width,
            "logo_height": info.height,
            "logo_sha256": hashlib.sha256(content).hexdigest(),
        }
    brand = await _brand_for_write(session, reseller)
    await audit.apply_changes(  # the digest stands for the bytes in the audit history
        session,
        actor,
        brand,
        fields,
        audited=LOGO_AUDIT_FIELDS,
        subject_type="brand",
        reseller_id=brand.reseller_id,
    )
    return BrandOwner(reseller, brand)


def check_logo(
    content: bytes, declared_type: str | None, *, settings: Settings
) -> images.ImageInfo:
    """The logo's real type and size, within the limits; the declared type must agree."""
    if not content:
        raise invalid("file", "the file is empty")
    if len(content) > settings.logo_max_bytes:
        raise invalid("file", f"a logo takes at most {settings.logo_max_bytes // 1024} KiB")
    try:
        info = images.inspect(content)
    except images.NotAnImage as exc:
        raise invalid("file", f"{exc}; a logo is a PNG, JPEG, GIF or WebP image") from None
    declared = (declared_type or "").split(";")[0].strip().lower()
    if declared and declared not in ("application/octet-stream", info.media_type):
        raise invalid("file", f"the file says it is {declared} but it is {info.media_type}")
    if max(info.width, info.height) > settings.logo_max_pixels:
        raise invalid("file", f"a logo is at most {settings.logo_max_pixels} pixels wide and high")
    return info


async def brand_for_host(
    session: AsyncSession, host: str | None, *, settings: Settings
) -> BrandOwner | None:
    """The brand a (normalised) request host is served with: the operator's on the platform
    host, a reseller's on its active hostnames; None for any other host."""
    if host is None:
        return None
    if host == request_host(settings.platform_host):
        return BrandOwner(None, await _brand_row(session, None))
    reseller = await session.scalar(
        select(Reseller)
        .join(Hostname, Hostname.reseller_id == Reseller.id)
        .where(Hostname.host == host, Hostname.status == "active")
    )
    if reseller is None:
        return None
    return BrandOwner(reseller, await _brand_row(session, reseller.id))


async def logo(session: AsyncSession, reseller_id: int | None) -> tuple[bytes, str, str] | None:
    """A brand's logo: its bytes, media type and SHA-256, or None."""
    row = (
        await session.execute(
            select(Brand.logo, Brand.logo_type, Brand.logo_sha256).where(
                _owned_by(reseller_id), Brand.logo.is_not(None)
            )
        )
    ).first()
    return (row.logo, row.logo_type, row.logo_sha256) if row else None


# --- PayPal settings (read by the IPN and the client's top-up form) ----------------------------


@dataclass(frozen=True)
class PaypalSettings:
    """What a reseller's PayPal top-up form and its IPN check need."""

    receiver_email: str
    currency: str
    amounts: tuple[int, ...]  # whole units of ``currency``


async def paypal_settings(session: AsyncSession, reseller_id: int | None) -> PaypalSettings | None:
    """The reseller's PayPal settings (``None``: the operator's default brand's, which
    commission-model clients pay), or None while no receiver email is set. A reseller is paid
    in its own currency; the operator's currency is whatever its brand sets (may be empty)."""
    row = (
        await session.execute(
            select(Brand.paypal_receiver_email, Brand.paypal_currency, Brand.paypal_amounts).where(
                _owned_by(reseller_id), Brand.paypal_receiver_email != ""
            )
        )
    ).first()
    if row is None:
        return None
    currency = row.paypal_currency
    if reseller_id is not None:
        currency = await session.scalar(select(Reseller.currency).where(Reseller.id == reseller_id))
    return PaypalSettings(row.paypal_receiver_email, currency, tuple(row.paypal_amounts or ()))


async def reseller_base_url(session: AsyncSession, reseller_id: int, *, settings: Settings) -> str:
    """``https://`` and the reseller's first activated custom hostname, or the platform host."""
    host = await session.scalar(
        select(Hostname.host)
        .where(Hostname.reseller_id == reseller_id, Hostname.status == "active")
        .order_by(Hostname.activated_at, Hostname.id)
        .limit(1)
    )
    return f"https://{host or request_host(settings.platform_host) or settings.platform_host}"


# --- hostnames ---------------------------------------------------------------------------------


def hostnames_query(
    actor: Actor, *, reseller_id: int | None = None, status: str | None = None
) -> Select:
    """Hostnames the actor may list: all (operator), its own (reseller)."""
    stmt = select(Hostname)
    if not actor.is_authenticated or actor.client_id is not None or not actor.can("brand:read"):
        return stmt.where(False)
    if not actor.is_operator:
        stmt = stmt.where(Hostname.reseller_id == actor.reseller_id)
    if reseller_id is not None:
        stmt = stmt.where(Hostname.reseller_id == reseller_id)
    if status is not None:
        stmt = stmt.where(Hostname.status == v.choice("status", status, HOSTNAME_STATUSES))
    return stmt


async def get_hostname(
    session: AsyncSession, actor: Actor, hostname_id: int, *, permission: str = "brand:read"
) -> Hostname:
    actor.require(permission)
    hostname = await session.get(Hostname, hostname_id)
    if (
        hostname is None
        or actor.client_id is not None
        or not actor.sees_reseller(hostname.reseller_id)
    ):
        raise not_found("hostname")
    return hostname


async def order_hostname(
    session: AsyncSession, actor: Actor, reseller_id: int | None, host: str, *, settings: Settings
) -> Hostname:
    """Order a custom hostname: pending, its fee charged to the reseller's balance."""
    reseller = await accounts.acting_reseller(session, actor, reseller_id, "brand:write")
    if reseller is None:
        raise invalid("resellerId", "the operator must name the reseller")
    name = normalise_host("host", host)
    if name == request_host(settings.platform_host):
        raise DomainError(ErrorCode.CONFLICT, "this is the platform's own host", "host")
    owner_id = await session.scalar(select(Hostname.reseller_id).where(Hostname.host == name))
    if owner_id is not None:
        taken = "already ordered" if owner_id == reseller.id else "already taken"
        raise DomainError(ErrorCode.CONFLICT, f"this hostname is {taken}", "host")
    hostname = Hostname(
        reseller_id=reseller.id, host=name, status="pending", fee=settings.hostname_fee
    )
    try:
        async with session.begin_nested():
            session.add(hostname)
            await session.flush()
    except IntegrityError:  # ordered at the same moment by someone else
        raise DomainError(ErrorCode.CONFLICT, "this hostname is already taken", "host") from None
    if hostname.fee:
        moved = await payments.hostname_fee(session, actor, reseller, hostname.id, hostname.fee)
        hostname.fee_entry_id = moved.entry.id
        await session.flush()
    await audit.record(
        session,
        actor,
        subject_type="hostname",
        subject_id=hostname.id,
        action="hostname.ordered",
        reseller_id=reseller.id,
        after={
            **audit.snapshot(hostname, HOSTNAME_AUDIT_FIELDS),
            "fee": money.format_amount(hostname.fee),
            "currency": reseller.currency,
        },
    )
    return hostname


def points_at_platform(addresses: set[str], settings: Settings) -> bool:
    """Whether every A record names one of the platform's addresses (and there is one)."""
    return bool(addresses) and addresses <= set(settings.platform_addresses)


async def _activate(session: AsyncSession, actor: Actor, hostname: Hostname, by: str) -> Hostname:
    before = audit.snapshot(hostname, HOSTNAME_AUDIT_FIELDS)
    hostname.status, hostname.activated_by, hostname.activated_at = "active", by, utcnow()
    await stamps.bump(session, STAMP)
    await session.flush()
    old, new = audit.changes(before, audit.snapshot(hostname, HOSTNAME_AUDIT_FIELDS))
    await audit.record(
        session,
        actor,
        subject_type="hostname",
        subject_id=hostname.id,
        action="hostname.activated",
        reseller_id=hostname.reseller_id,
        before=old,
        after=new,
    )
    return hostname


async def approve_hostname(session: AsyncSession, actor: Actor, hostname_id: int) -> Hostname:
    """The operator activates a hostname without waiting for its DNS (already active: kept)."""
    actor.require("brand:write")
    if not actor.is_operator:
        raise DomainError(ErrorCode.PERMISSION_DENIED, "only the operator approves hostnames")
    hostname = await get_hostname(session, actor, hostname_id, permission="brand:write")
    if hostname.status == "active":
        return hostname
    return await _activate(session, actor, hostname, "operator")


async def record_dns_check(
    session: AsyncSession,
    actor: Actor,
    hostname_id: int,
    addresses: set[str],
    *,
    settings: Settings,
) -> Hostname:
    """Store what a hostname's A records were found to be; a pending hostname whose records
    all name the platform becomes active. An active one stays active whatever its DNS says."""
    hostname = await get_hostname(session, actor, hostname_id, permission="brand:write")
    hostname.dns_checked_at = utcnow()
    hostname.dns_addresses = sorted(addresses)
    await session.flush()
    if hostname.status == "pending" and points_at_platform(addresses, settings):
        await _activate(session, actor, hostname, "dns")
    return hostname


async def check_dns(
    sessions: async_sessionmaker[AsyncSession],
    actor: Actor,
    hostname_id: int,
    *,
    resolver: Resolver,
    settings: Settings,
) -> Hostname:
    """Look up a hostname's A records (outside any transaction: DNS may be slow) and record
    them in a transaction of their own."""
    async with sessions() as session, session.begin():
        host = (await get_hostname(session, actor, hostname_id, permission="brand:write")).host
    addresses = await resolver.a_records(host)
    async with sessions() as session, session.begin():
        return await record_dns_check(session, actor, hostname_id, addresses, settings=settings)


async def recheck_due(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    now: datetime,
    *,
    resolver: Resolver | None = None,
) -> int:
    """Check the DNS of every pending hostname not checked in the last ``DNS_RECHECK_EVERY``
    (a worker job); returns how many became active."""
    resolver = resolver or SystemResolver()
    async with sessions() as session:
        due = list(
            await session.scalars(
                select(Hostname.id)
                .where(Hostname.status == "pending")
                .where(
                    or_(
                        Hostname.dns_checked_at.is_(None),
                        Hostname.dns_checked_at <= now - DNS_RECHECK_EVERY,
                    )
                )
                .order_by(Hostname.id)
            )
        )
    activated = 0
    for hostname_id in due:
        hostname = await check_dns(
            sessions, SYSTEM, hostname_id, resolver=resolver, settings=settings
        )
        activated += hostname.status == "active"
    return activated
