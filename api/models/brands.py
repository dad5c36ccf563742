"""Brands (a reseller's portal look and PayPal settings), the hostnames they are served on, and
the stamp that tells every process its cached host → brand map is stale."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from api.db import Base
from api.models.base import BigID, UTCDateTime, utcnow


class Brand(Base):
    """A reseller's brand; the one row without a reseller is the operator's default brand,
    which serves the platform host. Colors are stored as ``#rrggbb`` only."""

    __tablename__ = "brands"

    id: Mapped[int] = mapped_column(primary_key=True)
    reseller_id: Mapped[int | None] = mapped_column(ForeignKey("resellers.id"), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    header_background: Mapped[str] = mapped_column(String(7), default="")
    title_background: Mapped[str] = mapped_column(String(7), default="")
    text_color: Mapped[str] = mapped_column(String(7), default="")
    content_background: Mapped[str] = mapped_column(String(7), default="")
    content_text: Mapped[str] = mapped_column(String(7), default="")
    support_email: Mapped[str] = mapped_column(String(320), default="")
    footer_text: Mapped[str] = mapped_column(String(500), default="")
    default_language: Mapped[str] = mapped_column(String(16), default="en")
    logo: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    logo_type: Mapped[str] = mapped_column(String(32), default="")  # e.g. image/png
    logo_width: Mapped[int] = mapped_column(default=0)
    logo_height: Mapped[int] = mapped_column(default=0)
    logo_sha256: Mapped[str] = mapped_column(String(64), default="")
    paypal_receiver_email: Mapped[str] = mapped_column(String(320), default="")
    paypal_currency: Mapped[str] = mapped_column(String(3), default="")
    paypal_amounts: Mapped[list[int]] = mapped_column(JSON, default=list)  # whole units
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Hostname(Base):
    """A custom hostname a reseller ordered (normalised: lower-case ASCII, IDNA, no port or
    trailing dot). Only an ``active`` one resolves to its reseller's brand."""

    __tablename__ = "hostnames"

    id: Mapped[int] = mapped_column(primary_key=True)
    reseller_id: Mapped[int] = mapped_column(ForeignKey("resellers.id"), index=True)
    host: Mapped[str] = mapped_column(String(253), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | active
    activated_by: Mapped[str] = mapped_column(String(16), default="")  # dns | operator
    fee: Mapped[int] = mapped_column(BigInteger, default=0)  # micros, the reseller's currency
    fee_entry_id: Mapped[int | None] = mapped_column(
        BigID, ForeignKey("ledger_entries.id"), default=None
    )
    dns_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    dns_addresses: Mapped[list[str]] = mapped_column(JSON, default=list)  # last seen A records
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CacheStamp(Base):
    """A named counter bumped in the same transaction as every change to what a process
    caches under that name; a process whose stamp differs drops its cache."""

    __tablename__ = "cache_stamps"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
