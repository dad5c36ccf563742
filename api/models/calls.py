"""Who calls (sub-accounts, A-numbers, PINs, the blacklist) and the calls themselves."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from api.db import Base
from api.models.base import BigID, UTCDateTime, utcnow


class SubAccount(Base):
    """A client's SIP account. The secret is stored encrypted (``api.domain.secrets``) so that
    the switch can be provisioned with it later; its digest HA1 is kept beside it."""

    __tablename__ = "sub_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    reseller_id: Mapped[int] = mapped_column(ForeignKey("resellers.id"), index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    secret_encrypted: Mapped[str] = mapped_column(Text)
    ha1: Mapped[str] = mapped_column(String(64), default="")
    caller_id: Mapped[str] = mapped_column(String(40), default="")
    package_id: Mapped[int | None] = mapped_column(ForeignKey("packages.id"), index=True)
    forward_to: Mapped[str] = mapped_column(String(40), default="")
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | disabled
    next_billing_date: Mapped[date | None] = mapped_column(Date, default=None)
    activation_fee_charged: Mapped[bool] = mapped_column(Boolean, default=False)
    # the day of the month its monthly fee falls due (clamped in shorter months)
    billing_day: Mapped[int | None] = mapped_column(SmallInteger, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ClientNumber(Base):
    """A phone number a client calls from (an A-number), unique on the platform."""

    __tablename__ = "client_numbers"

    id: Mapped[int] = mapped_column(primary_key=True)
    reseller_id: Mapped[int] = mapped_column(ForeignKey("resellers.id"), index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)


class BlacklistEntry(Base):
    """A number or a client a reseller refuses, with a reason the switch can play."""

    __tablename__ = "blacklist"
    __table_args__ = (UniqueConstraint("reseller_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reseller_id: Mapped[int] = mapped_column(ForeignKey("resellers.id"), index=True)
    number: Mapped[str | None] = mapped_column(String(32), default=None)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"), default=None)
    reason: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Call(Base):
    """One finished call with both sides of its money: what the reseller pays (cost) and what
    the client pays (sell), the matched prefix and the rates used. Unique by the switch's id.

    The references (reseller, client, sub-account, ledger entry) carry no foreign keys: calls
    are an append-only fact table written only by ingestion, which resolves every one of them
    in the transaction that stores the call, and none of the rows they name is ever deleted
    (clients and sub-accounts are marked deleted, ledger entries are never removed). Checking
    four keys row by row made PostgreSQL's bulk load of calls 2.5 times slower."""

    __tablename__ = "calls"
    __table_args__ = (
        Index("ix_calls_client_started", "client_id", "started_at", "id"),
        Index("ix_calls_reseller_started", "reseller_id", "started_at", "id"),
        # the operator browsing every reseller's calls (newest first, keyset)
        Index("ix_calls_started", "started_at", "id"),
        # the calls of the ledger entries an invoice claims (api.domain.invoices)
        Index("ix_calls_entry_id", "entry_id"),
    )

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    call_id: Mapped[str] = mapped_column(String(128), unique=True)
    reseller_id: Mapped[int] = mapped_column(Integer)
    client_id: Mapped[int] = mapped_column(Integer)
    # found through the client's index: a sub-account's calls are some of its client's
    sub_account_id: Mapped[int | None] = mapped_column(Integer)
    direction: Mapped[str] = mapped_column(String(8))  # outbound | inbound
    a_number: Mapped[str] = mapped_column(String(40), default="")
    destination: Mapped[str] = mapped_column(String(40))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    duration: Mapped[int] = mapped_column(Integer, default=0)  # seconds, ring included
    billsec: Mapped[int] = mapped_column(Integer, default=0)  # seconds answered
    disposition: Mapped[str] = mapped_column(String(16))  # answered | no_answer | busy | failed
    matched_prefix: Mapped[str] = mapped_column(String(24), default="")
    destination_name: Mapped[str] = mapped_column(String(200), default="")
    currency: Mapped[str] = mapped_column(String(3))
    cost_rate: Mapped[int] = mapped_column(BigInteger, default=0)  # micros per minute
    cost_billed: Mapped[int] = mapped_column(Integer, default=0)  # seconds
    cost: Mapped[int] = mapped_column(BigInteger, default=0)  # micros
    sell_rate: Mapped[Decimal] = mapped_column(Numeric(20, 6), default=Decimal(0))
    sell_billed: Mapped[int] = mapped_column(Integer, default=0)
    sell: Mapped[int] = mapped_column(BigInteger, default=0)
    rule: Mapped[str] = mapped_column(String(16), default="")  # what set the sell price
    # of sell_billed, the seconds the package's free minutes paid for
    free_seconds: Mapped[int] = mapped_column(Integer, default=0)
    entry_id: Mapped[int | None] = mapped_column(BigID)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CallRollup(Base):
    """Running totals per reseller, client, day and direction, kept in the transaction that
    stores the calls, so that reports never scan all calls."""

    __tablename__ = "call_rollups"
    __table_args__ = (
        UniqueConstraint("reseller_id", "client_id", "day", "direction"),
        # a reseller's month (the financial report)
        Index("ix_call_rollups_reseller_id_day", "reseller_id", "day"),
    )

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    reseller_id: Mapped[int] = mapped_column(ForeignKey("resellers.id"))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    day: Mapped[date] = mapped_column(Date)
    direction: Mapped[str] = mapped_column(String(8))
    calls: Mapped[int] = mapped_column(BigInteger, default=0)
    seconds: Mapped[int] = mapped_column(BigInteger, default=0)
    cost: Mapped[int] = mapped_column(BigInteger, default=0)
    sell: Mapped[int] = mapped_column(BigInteger, default=0)


class FreeMinutesUsage(Base):
    """How much of a package's free minutes one caller used in one month (UTC): per
    sub-account for its calls, per client for calls matched by A-number. Added to in the
    transaction that stores the calls."""

    __tablename__ = "free_minutes_usage"
    __table_args__ = (UniqueConstraint("client_id", "sub_account_id", "package_id", "month"),)

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"))
    sub_account_id: Mapped[int] = mapped_column(Integer, default=0)  # 0: the client's own
    package_id: Mapped[int] = mapped_column(ForeignKey("packages.id"))
    month: Mapped[date] = mapped_column(Date)  # the first day of the month
    seconds: Mapped[int] = mapped_column(BigInteger, default=0)
