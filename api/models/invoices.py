"""Invoices of postpaid clients (``api.domain.invoices``): the documents, their lines, and the
payments that settled them."""

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
    LargeBinary,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from api.db import Base
from api.models.base import BigID, UTCDateTime, utcnow


class Invoice(Base):
    """One invoice (``kind`` ``invoice``) or credit note (``credit_note``, naming the invoice it
    credits) of a client. ``status``: ``draft`` (lines editable, no number), ``sent`` (numbered,
    its PDF kept in :class:`InvoiceDocument`; never edited again), ``paid``, ``void``.

    An invoice covers the client's calls of the ledger entries it claimed
    (:class:`InvoiceEntry`: those posted before ``period_end`` that no earlier invoice had) and
    the fee charges that name it (``fee_charges.invoice_id``); ``period_start`` is the previous
    draft's ``period_end``. ``charged`` is what the ledger already took from the client for
    them. Amounts in micros: ``subtotal`` (lines before tax), ``tax``
    (the lines' tax, each rounded once), ``total`` (subtotal + tax), ``paid`` (settled by
    payments, see :class:`InvoicePayment`)."""

    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("reseller_id", "number"),
        Index("ix_invoices_reseller_id_id", "reseller_id", "id"),
        Index("ix_invoices_client_id_status", "client_id", "status"),
        Index("ix_invoices_status_due_at", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    reseller_id: Mapped[int] = mapped_column(ForeignKey("resellers.id"))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"))
    kind: Mapped[str] = mapped_column(String(16), default="invoice")  # invoice | credit_note
    credits_invoice_id: Mapped[int | None] = mapped_column(
        BigID, ForeignKey("invoices.id"), default=None
    )
    number: Mapped[str | None] = mapped_column(String(40), default=None)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    reason: Mapped[str] = mapped_column(String(16), default="manual")  # credit_limit | monthly
    currency: Mapped[str] = mapped_column(String(3))
    period_start: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    period_end: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    charged: Mapped[int] = mapped_column(BigInteger, default=0)
    subtotal: Mapped[int] = mapped_column(BigInteger, default=0)
    tax: Mapped[int] = mapped_column(BigInteger, default=0)
    total: Mapped[int] = mapped_column(BigInteger, default=0)
    paid: Mapped[int] = mapped_column(BigInteger, default=0)
    # the ledger entry posted when it was sent: the difference between its total and `charged`
    adjustment_entry_id: Mapped[int | None] = mapped_column(BigID, default=None)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # when the worker found it past its due date (its invoice.overdue event went)
    overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class InvoiceLine(Base):
    """A line: ``quantity`` * ``unit_price`` (micros per unit) = ``amount``, rounded once, and its
    tax ``tax_pct`` % of the amount, rounded once. A line drafted from calls keeps the exact sum
    of its calls' prices as its amount until the reseller changes its price or quantity."""

    __tablename__ = "invoice_lines"

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    invoice_id: Mapped[int] = mapped_column(BigID, ForeignKey("invoices.id"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(16))  # calls | fee | item
    article_number: Mapped[str] = mapped_column(String(40), default="")
    description: Mapped[str] = mapped_column(String(300), default="")
    unit: Mapped[str] = mapped_column(String(16), default="")  # min | pcs
    quantity: Mapped[Decimal] = mapped_column(Numeric(20, 6), default=Decimal(0))
    unit_price: Mapped[int] = mapped_column(BigInteger, default=0)
    amount: Mapped[int] = mapped_column(BigInteger, default=0)
    tax_pct: Mapped[Decimal] = mapped_column(Numeric(7, 4), default=Decimal(0))
    tax: Mapped[int] = mapped_column(BigInteger, default=0)
    # what ledger charges it stands for (calls of a destination, a fee charge's id)
    charged: Mapped[int] = mapped_column(BigInteger, default=0)


class InvoiceEntry(Base):
    """A ``calls`` ledger entry (one client's calls of one batch, ``calls.entry_id``) claimed by
    the invoice that bills them: each entry is on one invoice at most (its primary key)."""

    __tablename__ = "invoice_entries"

    entry_id: Mapped[int] = mapped_column(BigID, ForeignKey("ledger_entries.id"), primary_key=True)
    invoice_id: Mapped[int] = mapped_column(BigID, ForeignKey("invoices.id"), index=True)


class InvoicePayment(Base):
    """The part ``amount`` of the payment ``entry_id`` that settled an invoice."""

    __tablename__ = "invoice_payments"
    __table_args__ = (UniqueConstraint("invoice_id", "entry_id"),)

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    invoice_id: Mapped[int] = mapped_column(BigID, ForeignKey("invoices.id"), index=True)
    entry_id: Mapped[int] = mapped_column(BigID, ForeignKey("ledger_entries.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class InvoiceDocument(Base):
    """The PDF of a sent invoice or credit note, as it was sent (kept apart from the invoice's
    row so that lists of invoices never read it)."""

    __tablename__ = "invoice_documents"

    invoice_id: Mapped[int] = mapped_column(BigID, ForeignKey("invoices.id"), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ClientTaxRate(Base):
    """A client's own tax rate instead of its reseller's, from ``valid_from`` to ``valid_to``
    (both included; no end: open)."""

    __tablename__ = "client_tax_rates"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    rate_pct: Mapped[Decimal] = mapped_column(Numeric(7, 4))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PriceList(Base):
    """A reseller's price list of articles it invoices by hand; ``is_basic``: the one its
    clients are on unless they are given another."""

    __tablename__ = "price_lists"
    __table_args__ = (UniqueConstraint("reseller_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reseller_id: Mapped[int] = mapped_column(ForeignKey("resellers.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    is_basic: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PriceListItem(Base):
    """An article of a price list: number, description, unit and price (micros per unit)."""

    __tablename__ = "price_list_items"
    __table_args__ = (UniqueConstraint("price_list_id", "article_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    price_list_id: Mapped[int] = mapped_column(ForeignKey("price_lists.id"), index=True)
    reseller_id: Mapped[int] = mapped_column(ForeignKey("resellers.id"))
    article_number: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(String(300))
    unit: Mapped[str] = mapped_column(String(16), default="pcs")
    unit_price: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
