"""Brands and the hostnames they are served on.

A reseller's brand holds what its portals show (display name, logo, five colors, support email,
footer, default language) and its PayPal settings (receiver email, currency, the whole amounts
a top-up form offers). The operator's default brand (the row without a reseller) serves the
platform host.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import Brand, Hostname, Reseller
from api.settings import Settings

HOSTNAME_STATUSES = ("pending", "active")


@dataclass(frozen=True)
class PaypalSettings:
    """What a reseller's PayPal top-up form and its IPN check need."""

    receiver_email: str
    currency: str
    amounts: tuple[int, ...]  # whole units of ``currency``


async def paypal_settings(session: AsyncSession, reseller_id: int | None) -> PaypalSettings | None:
    """The reseller's PayPal settings (``None``: the operator's default brand's, which
    commission-model clients pay), or None while it has no receiver email set."""
    owner = Brand.reseller_id.is_(None) if reseller_id is None else Brand.reseller_id == reseller_id
    row = (
        await session.execute(
            select(Brand.paypal_receiver_email, Brand.paypal_currency, Brand.paypal_amounts)
            .where(owner)
            .where(Brand.paypal_receiver_email != "")
        )
    ).first()
    if row is None:
        return None
    currency = row.paypal_currency
    if not currency and reseller_id is not None:
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
    return f"https://{host or settings.platform_host}"
