"""Resellers and their clients."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, ForeignKey, Index, Numeric, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from api.db import Base
from api.models.base import UTCDateTime, utcnow


class Reseller(Base):
    __tablename__ = "resellers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # the country its switches dial from (ISO 3166 alpha-2, "" for none): how a national or
    # exit-coded number dialled by its clients is read (api.domain.dialing)
    home_country: Mapped[str] = mapped_column(String(2), default="", server_default="")
    billing_model: Mapped[str] = mapped_column(String(16))  # markup | commission
    commission_pct: Mapped[Decimal] = mapped_column(Numeric(7, 4), default=Decimal(0))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | suspended
    status_reason: Mapped[str] = mapped_column(String(500), default="")
    low_balance_threshold: Mapped[int] = mapped_column(BigInteger, default=0)
    # below its threshold since the balance last crossed it (the alert went, or none was due)
    low_balance_alerted: Mapped[bool] = mapped_column(default=False, server_default=false())
    base_deck_id: Mapped[int | None] = mapped_column(ForeignKey("rate_decks.id"), default=None)
    # invoices (api.domain.invoices): the tax rate on its clients' invoices, how much a paid
    # invoice raises a postpaid client's credit limit, and the last invoice number given
    tax_rate_pct: Mapped[Decimal] = mapped_column(
        Numeric(7, 4), default=Decimal(0), server_default="0"
    )
    credit_limit_step: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    invoice_sequence: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Client(Base):
    __tablename__ = "clients"
    __table_args__ = (Index("ix_clients_reseller_id_id", "reseller_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reseller_id: Mapped[int] = mapped_column(ForeignKey("resellers.id"))
    name: Mapped[str] = mapped_column(String(200))
    company: Mapped[str] = mapped_column(String(200), default="")
    contact_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(320), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    language: Mapped[str] = mapped_column(String(16), default="en")
    country: Mapped[str] = mapped_column(String(2), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    characteristic: Mapped[str] = mapped_column(String(16), default="normal")
    label: Mapped[str] = mapped_column(String(100), default="")
    billing_mode: Mapped[str] = mapped_column(String(24), default="prepaid_strict")
    credit_limit: Mapped[int] = mapped_column(BigInteger, default=0)
    # postpaid: the end of the last drafted invoice's period (None: none drafted yet)
    invoiced_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # postpaid: every `calls` ledger entry of the client up to this id that charged it is on an
    # invoice, so drafting looks for unclaimed ones above it only (api.domain.invoices)
    invoice_entry_floor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    invoice_due_days: Mapped[int] = mapped_column(default=14, server_default="14")
    # blocked when an invoice is this many days past due (None: never)
    overdue_block_days: Mapped[int | None] = mapped_column(default=None)
    # the price list of its hand-added invoice lines (None: its reseller's basic list), and
    # the discount it gets on it
    price_list_id: Mapped[int | None] = mapped_column(ForeignKey("price_lists.id"), default=None)
    discount_pct: Mapped[Decimal] = mapped_column(
        Numeric(7, 4), default=Decimal(0), server_default="0"
    )
    low_balance_threshold: Mapped[int] = mapped_column(BigInteger, default=0)
    # below its threshold since the balance last crossed it (the alert went, or none was due)
    low_balance_alerted: Mapped[bool] = mapped_column(default=False, server_default=false())
    status: Mapped[str] = mapped_column(String(16), default="active")
    status_reason: Mapped[str] = mapped_column(String(500), default="")
    # markup model: the package of calls made without a sub-account (A-number, PIN)
    package_id: Mapped[int | None] = mapped_column(ForeignKey("packages.id"), default=None)
    # commission model: the client pays the base rate plus this percent
    personal_rate_pct: Mapped[Decimal] = mapped_column(Numeric(9, 4), default=Decimal(0))
    pin_digest: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
