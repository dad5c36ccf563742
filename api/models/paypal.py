"""Money that comes in from outside (deposits) and the PayPal IPN messages that announce it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from api.db import Base
from api.models.base import BigID, UTCDateTime, utcnow


class Deposit(Base):
    """One movement of outside money into (``credit``, ``reinstate``) or out of (``debit``) a
    client's or a reseller's balance, written by ``api.domain.deposits`` in the same
    transaction as its ledger entry. ``(source, external_id)`` is unique: a payment, a refund
    or a reversal lands once however often it is announced. ``original_id`` links a debit or
    reinstatement to the credit it corrects."""

    __tablename__ = "deposits"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_deposits_reseller_id_id", "reseller_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    source: Mapped[str] = mapped_column(String(32))  # paypal, ...
    external_id: Mapped[str] = mapped_column(String(128))  # the provider's transaction id
    kind: Mapped[str] = mapped_column(String(16))  # credit | debit | reinstate
    reseller_id: Mapped[int] = mapped_column(ForeignKey("resellers.id"))
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)  # micros, positive
    currency: Mapped[str] = mapped_column(String(3))
    commission: Mapped[int] = mapped_column(BigInteger, default=0)  # micros moved with it
    original_id: Mapped[int | None] = mapped_column(BigID, ForeignKey("deposits.id"), index=True)
    entry_id: Mapped[int] = mapped_column(BigID, ForeignKey("ledger_entries.id"))
    raw_id: Mapped[int | None] = mapped_column(BigInteger, default=None)  # the source's message
    memo: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PaypalIpnMessage(Base):
    """One IPN message as PayPal sent it: ``raw`` holds the exact bytes (posted back as they
    are to verify them), ``charset`` the encoding its ``charset`` field names. The other text
    columns are read from it for lookups and display. ``status`` says how far it got:

    received → verified and processed (``credited``, ``debited``, ``reinstated``,
    ``duplicate``, ``pending``, ``ignored``, ``flagged`` with a ``reason``), or ``invalid``
    (PayPal did not confirm it), ``refused`` (a sandbox message while sandbox is off),
    ``retry`` (verification could not complete; the worker tries again at
    ``next_attempt_at``), ``failed`` (it never could)."""

    __tablename__ = "paypal_ipn_messages"
    __table_args__ = (
        Index("ix_paypal_ipn_messages_reseller_id_id", "reseller_id", "id"),
        Index("ix_paypal_ipn_messages_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    charset: Mapped[str] = mapped_column(String(32))
    remote_addr: Mapped[str] = mapped_column(String(64), default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    txn_id: Mapped[str] = mapped_column(String(128), default="", index=True)
    parent_txn_id: Mapped[str] = mapped_column(String(128), default="", index=True)
    txn_type: Mapped[str] = mapped_column(String(64), default="")
    payment_status: Mapped[str] = mapped_column(String(32), default="")
    receiver_email: Mapped[str] = mapped_column(String(320), default="")
    payer_email: Mapped[str] = mapped_column(String(320), default="")
    gross: Mapped[str] = mapped_column(String(32), default="")  # mc_gross as sent
    currency: Mapped[str] = mapped_column(String(8), default="")  # mc_currency as sent
    custom: Mapped[str] = mapped_column(String(256), default="")
    test_ipn: Mapped[bool] = mapped_column(default=False)
    reseller_id: Mapped[int | None] = mapped_column(ForeignKey("resellers.id"), default=None)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"), default=None)
    status: Mapped[str] = mapped_column(String(16), default="received")
    reason: Mapped[str] = mapped_column(String(500), default="")
    attempts: Mapped[int] = mapped_column(default=0)  # verification attempts made
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    deposit_id: Mapped[int | None] = mapped_column(BigID, ForeignKey("deposits.id"), default=None)
