"""The double-entry ledger (DESIGN §4): accounts with cached balances, entries, postings."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from api.db import Base
from api.models.base import BigID, UTCDateTime, utcnow


class Account(Base):
    """A ledger account. ``balance`` is a cache of the sum of its postings, kept in step by
    ``api.domain.ledger.post`` in the same transaction. ``key`` names it uniquely, e.g.
    ``client:12``, ``reseller:3``, ``reseller:3:receipts``, ``operator:commission:EUR``."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    reseller_id: Mapped[int | None] = mapped_column(ForeignKey("resellers.id"), index=True)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LedgerEntry(Base):
    """One movement of money. Never edited or deleted; corrections reference ``reverses_id``.
    ``(idem_scope, idem_key)`` is unique: a replayed request or external event lands once."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        UniqueConstraint("idem_scope", "idem_key"),
        Index("ix_ledger_entries_reseller_id_id", "reseller_id", "id"),
        Index("ix_ledger_entries_client_id_id", "client_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    reseller_id: Mapped[int | None] = mapped_column(ForeignKey("resellers.id"))
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int] = mapped_column(BigInteger)  # the headline amount, positive
    memo: Mapped[str] = mapped_column(String(500), default="")
    idem_scope: Mapped[str] = mapped_column(String(64))
    idem_key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    reverses_id: Mapped[int | None] = mapped_column(
        BigID, ForeignKey("ledger_entries.id"), index=True
    )
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(default=None)
    actor_label: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Posting(Base):
    __tablename__ = "postings"

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    entry_id: Mapped[int] = mapped_column(BigID, ForeignKey("ledger_entries.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))


class LedgerRollup(Base):
    """The postings of one account summed per UTC day of their entry, entry kind and the
    entry's reseller and client (0 when it names none): kept by ``api.domain.ledger`` in the
    transaction that writes the postings, so ``amount`` always equals the sum of those
    postings and ``postings`` their count. The financial reports read these rows, never the
    postings (``api.domain.financials``)."""

    __tablename__ = "ledger_rollups"
    __table_args__ = (
        # reseller and day first: the index a reseller's month is read by
        UniqueConstraint("reseller_id", "day", "account_id", "kind", "client_id"),
        Index("ix_ledger_rollups_day", "day"),  # every reseller's month (the operator)
    )

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    day: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(32))  # the entries' kind
    reseller_id: Mapped[int] = mapped_column(Integer, default=0)  # the entries' (0: none)
    client_id: Mapped[int] = mapped_column(Integer, default=0)  # the entries' (0: none)
    amount: Mapped[int] = mapped_column(BigInteger, default=0)  # micros, signed
    postings: Mapped[int] = mapped_column(BigInteger, default=0)
