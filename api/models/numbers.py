"""DIDs: the operator's phone numbers, ordered by resellers and assigned to their clients."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from api.db import Base
from api.models.base import BigID, UTCDateTime, utcnow


class Did(Base):
    """One number of the inventory (E.164 digits, no ``+``). ``available`` numbers belong to
    the operator; ``owned`` ones to a reseller (``reseller_id``), who paid the setup cost;
    ``assigned`` ones also to a client of that reseller (and optionally one of its
    sub-accounts). Costs are the operator's, in ``currency``; prices the reseller's own, in the
    same currency. Released numbers go back to ``available`` with the reseller's fields reset;
    the audit history keeps who held them."""

    __tablename__ = "dids"
    __table_args__ = (Index("ix_dids_status_country", "status", "country", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)  # E.164 digits
    country: Mapped[str] = mapped_column(String(2))  # ISO 3166 alpha-2
    city: Mapped[str] = mapped_column(String(200), default="")  # city or rate centre
    currency: Mapped[str] = mapped_column(String(3))
    monthly_cost: Mapped[int] = mapped_column(BigInteger, default=0)  # micros, operator's
    setup_cost: Mapped[int] = mapped_column(BigInteger, default=0)  # micros, operator's
    inbound_rate: Mapped[int] = mapped_column(BigInteger, default=0)  # micros/min, 0 = flat
    status: Mapped[str] = mapped_column(String(16), default="available")
    reseller_id: Mapped[int | None] = mapped_column(
        ForeignKey("resellers.id"), index=True, default=None
    )
    client_id: Mapped[int | None] = mapped_column(
        ForeignKey("clients.id"), index=True, default=None
    )
    sub_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("sub_accounts.id"), index=True, default=None
    )
    routing: Mapped[str] = mapped_column(String(16), default="none")  # none|sub_account|forward
    forward_to: Mapped[str] = mapped_column(String(32), default="")
    monthly_price: Mapped[int] = mapped_column(BigInteger, default=0)  # micros, reseller's
    setup_price: Mapped[int] = mapped_column(BigInteger, default=0)  # micros, reseller's
    # for the recurring fees: the reseller pays monthly_cost, the client monthly_price
    reseller_next_billing_date: Mapped[date | None] = mapped_column(Date, default=None)
    reseller_setup_fee_charged: Mapped[bool] = mapped_column(Boolean, default=False)
    client_next_billing_date: Mapped[date | None] = mapped_column(Date, default=None)
    client_setup_fee_charged: Mapped[bool] = mapped_column(Boolean, default=False)
    order_entry_id: Mapped[int | None] = mapped_column(
        BigID, ForeignKey("ledger_entries.id"), default=None
    )
    ordered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
