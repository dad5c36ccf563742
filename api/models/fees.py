"""Recurring and one-time fees: every monthly fee and setup fee charged, one row each."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from api.db import Base
from api.models.base import BigID, UTCDateTime, utcnow
from api.models.calls import SubAccount
from api.models.numbers import Did


class FeeCharge(Base):
    """One fee charged (``api.domain.fees``): a period of a monthly fee, or a setup fee.

    ``subject_type``/``subject_id`` name what it is for (``sub_account``: its package's fees;
    ``did``: a number's fees); ``payer`` who paid it (``client:N`` pays its reseller's price,
    ``reseller:N`` the operator's cost of a number it holds). ``(subject_type, subject_id, kind,
    period_start, payer)`` is unique, so a period is charged once whatever runs it, and the
    ledger entry of a monthly fee carries the same key (scope ``fee``). ``invoice_id`` stays
    null until an invoice takes the row (postpaid clients' uninvoiced fees are the rows with a
    client and no invoice)."""

    __tablename__ = "fee_charges"
    __table_args__ = (
        UniqueConstraint("subject_type", "subject_id", "kind", "period_start", "payer"),
        Index("ix_fee_charges_reseller_id_id", "reseller_id", "id"),
        Index("ix_fee_charges_client_id_id", "client_id", "id"),
        Index("ix_fee_charges_client_id_invoice_id", "client_id", "invoice_id"),
    )

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    subject_type: Mapped[str] = mapped_column(String(16))  # sub_account | did
    subject_id: Mapped[int] = mapped_column()
    kind: Mapped[str] = mapped_column(String(16))  # monthly | setup
    payer: Mapped[str] = mapped_column(String(40))  # client:N | reseller:N
    reseller_id: Mapped[int] = mapped_column(ForeignKey("resellers.id"))
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"), default=None)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)  # the period's last day (a setup fee: start)
    description: Mapped[str] = mapped_column(String(300), default="")
    client_amount: Mapped[int] = mapped_column(BigInteger, default=0)  # micros the client paid
    reseller_cost: Mapped[int] = mapped_column(BigInteger, default=0)  # micros the reseller paid
    currency: Mapped[str] = mapped_column(String(3))
    entry_id: Mapped[int] = mapped_column(BigID, ForeignKey("ledger_entries.id"), index=True)
    invoice_id: Mapped[int | None] = mapped_column(BigID, ForeignKey("invoices.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# The worker finds what is due by these dates.
Index("ix_sub_accounts_next_billing_date", SubAccount.next_billing_date)
Index("ix_dids_reseller_next_billing_date", Did.reseller_next_billing_date)
Index("ix_dids_client_next_billing_date", Did.client_next_billing_date)
