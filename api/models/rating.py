"""Rate decks, packages and their overrides: what a call costs and what it sells for."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from api.db import Base
from api.models.base import BigID, UTCDateTime, utcnow


class RateDeck(Base):
    """An operator-owned list of rates. ``version`` goes up on every change, so every process
    notices at its next use that its cached index is stale."""

    __tablename__ = "rate_decks"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    currency: Mapped[str] = mapped_column(String(3))
    version: Mapped[int] = mapped_column(BigInteger, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Rate(Base):
    """One prefix's rate from ``effective_from`` on; a later row for the same prefix takes over
    from its own date, and the earlier one stays as history."""

    __tablename__ = "rates"
    __table_args__ = (UniqueConstraint("deck_id", "prefix", "effective_from"),)

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    deck_id: Mapped[int] = mapped_column(ForeignKey("rate_decks.id"))
    prefix: Mapped[str] = mapped_column(String(24))
    destination: Mapped[str] = mapped_column(String(200), default="")
    country: Mapped[str] = mapped_column(String(2), default="")
    rate: Mapped[int] = mapped_column(BigInteger)  # micros per minute
    connection_fee: Mapped[int] = mapped_column(BigInteger, default=0)  # micros per call
    first_increment: Mapped[int] = mapped_column(Integer, default=60)  # seconds
    increment: Mapped[int] = mapped_column(Integer, default=60)  # seconds
    effective_from: Mapped[datetime] = mapped_column(UTCDateTime())


class Package(Base):
    """A reseller's price list for its clients: a markup over cost, billing increments, fees,
    and per-destination overrides."""

    __tablename__ = "packages"
    __table_args__ = (UniqueConstraint("reseller_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reseller_id: Mapped[int] = mapped_column(ForeignKey("resellers.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    markup_fixed: Mapped[int] = mapped_column(BigInteger, default=0)  # micros per minute
    markup_pct: Mapped[Decimal] = mapped_column(Numeric(9, 4), default=Decimal(0))
    first_increment: Mapped[int] = mapped_column(Integer, default=60)
    increment: Mapped[int] = mapped_column(Integer, default=60)
    monthly_fee: Mapped[int] = mapped_column(BigInteger, default=0)
    setup_fee: Mapped[int] = mapped_column(BigInteger, default=0)
    free_minutes: Mapped[int] = mapped_column(Integer, default=0)
    refuse_below_cost: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(BigInteger, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PackageOverride(Base):
    """A sell rate set outright: for a dial prefix, a country, or all of US/Canada (NANPA)."""

    __tablename__ = "package_overrides"
    __table_args__ = (UniqueConstraint("package_id", "kind", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    package_id: Mapped[int] = mapped_column(ForeignKey("packages.id"))
    kind: Mapped[str] = mapped_column(String(8))  # prefix | country | nanpa
    key: Mapped[str] = mapped_column(String(24))  # digits, ISO country code, or "NANPA"
    rate: Mapped[int] = mapped_column(BigInteger)  # sell, micros per minute
    connection_fee: Mapped[int] = mapped_column(BigInteger, default=0)


Index("ix_rates_deck_prefix", Rate.deck_id, Rate.prefix)
