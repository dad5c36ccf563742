"""PayPal Checkout (Orders v2): the REST apps money is paid into, the orders made with them,
and every webhook delivery PayPal sent, as it sent it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from api.db import Base
from api.models.base import BigID, UTCDateTime, utcnow


class PaypalCredentials(Base):
    """A PayPal REST app: a reseller's (its clients pay into it) or, without a reseller, the
    operator's (resellers top up their balance with it). ``owner`` is ``operator`` or
    ``reseller:<id>``, one app each. The client secret is stored only encrypted
    (``api.domain.secrets``); ``webhook_id`` is the app's webhook, part of what PayPal signs."""

    __tablename__ = "paypal_credentials"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner: Mapped[str] = mapped_column(String(32), unique=True)
    reseller_id: Mapped[int | None] = mapped_column(ForeignKey("resellers.id"), default=None)
    client_id: Mapped[str] = mapped_column(String(128))
    secret_encrypted: Mapped[str] = mapped_column(Text)
    webhook_id: Mapped[str] = mapped_column(String(64))
    sandbox: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class PaypalOrder(Base):
    """An Orders v2 order we created: a client topping up (``client_id`` set; paid into its
    reseller's app) or a reseller topping up its own balance (``client_id`` null; paid into
    the operator's app). ``payee`` is the owner of the app it was made with. ``status`` is
    PayPal's order status, then its capture's (COMPLETED, PENDING, DECLINED, DENIED)."""

    __tablename__ = "paypal_orders"
    __table_args__ = (Index("ix_paypal_orders_reseller_id_id", "reseller_id", "id"),)

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    paypal_id: Mapped[str] = mapped_column(String(64), unique=True)
    reference: Mapped[str] = mapped_column(String(64), unique=True)  # our custom_id
    reseller_id: Mapped[int] = mapped_column(ForeignKey("resellers.id"))
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"), index=True)
    payee: Mapped[str] = mapped_column(String(32))
    sandbox: Mapped[bool] = mapped_column(default=False)
    amount: Mapped[int] = mapped_column(BigInteger)  # micros
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(32))
    approve_url: Mapped[str] = mapped_column(String(500), default="")
    return_to: Mapped[str] = mapped_column(String(300), default="")  # the payer's portal
    capture_id: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class PaypalEvent(Base):
    """One webhook delivery, stored before anything else is done with it: ``body`` holds the
    exact bytes (the signature covers them), ``headers`` the PAYPAL-* headers as JSON.
    ``status``: received → ``rejected`` (not PayPal's, or not for a known order: ``reason``
    says why), ``retry`` (its certificate could not be fetched; tried again later),
    ``pending`` (a refund or reversal told before its capture is credited: applied when it is),
    ``processed``, ``duplicate`` (its money had moved already), ``ignored`` (nothing to do),
    ``flagged`` (verified but refused, e.g. a refund beyond what is left; ``reason``)."""

    __tablename__ = "paypal_events"
    __table_args__ = (Index("ix_paypal_events_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    headers: Mapped[str] = mapped_column(Text, default="{}")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    event_id: Mapped[str] = mapped_column(String(64), default="", index=True)
    event_type: Mapped[str] = mapped_column(String(64), default="")
    order_id: Mapped[int | None] = mapped_column(
        BigID, ForeignKey("paypal_orders.id"), index=True, default=None
    )
    status: Mapped[str] = mapped_column(String(16), default="received")
    reason: Mapped[str] = mapped_column(String(500), default="")
    attempts: Mapped[int] = mapped_column(default=0)
    deposit_id: Mapped[int | None] = mapped_column(BigID, ForeignKey("deposits.id"), default=None)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
