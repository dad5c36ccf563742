"""Outbound notifications: events, their webhook endpoints and deliveries, and the email outbox.

Everything here is written by ``api.domain.notifications.publish`` in the transaction of the
change it tells about, and sent afterwards by ``dialtone worker``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.db import Base
from api.models.base import BigID, UTCDateTime, utcnow


class Event(Base):
    """Something that happened to a reseller's business (a low balance, a payment, ...).
    ``uid`` is its public id (``evt_…``), the same in every delivery of it."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_reseller_id_id", "reseller_id", "id"),)

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    uid: Mapped[str] = mapped_column(String(40), unique=True)
    type: Mapped[str] = mapped_column(String(64))
    reseller_id: Mapped[int] = mapped_column(ForeignKey("resellers.id"))
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"), default=None)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WebhookEndpoint(Base):
    """A URL of a reseller's that receives the events it chose, signed with its own secret
    (kept encrypted, ``api.domain.secrets``). Deleted endpoints keep their history."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_reseller_id_id", "reseller_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reseller_id: Mapped[int] = mapped_column(ForeignKey("resellers.id"))
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(200), default="")
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    secret_encrypted: Mapped[str] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class WebhookDelivery(Base):
    """One event to one endpoint: ``pending`` until a 2xx answer (``delivered``) or
    ``max attempts`` failures (``failed``); ``sending`` while a worker holds it (until
    ``next_attempt_at``, after which another may take it over)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id"),
        Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_reseller_id_id", "reseller_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    event_id: Mapped[int] = mapped_column(BigID, ForeignKey("events.id"), index=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id"))
    reseller_id: Mapped[int] = mapped_column(ForeignKey("resellers.id"))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=utcnow)
    last_status_code: Mapped[int | None] = mapped_column(default=None)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    # set when it is written, so that one flush writes many events with their deliveries
    event: Mapped[Event] = relationship(lazy="raise")


class WebhookAttempt(Base):
    """One POST of a delivery and what came of it."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(BigID, ForeignKey("webhook_deliveries.id"), index=True)
    number: Mapped[int] = mapped_column()
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    succeeded: Mapped[bool] = mapped_column(default=False)
    status_code: Mapped[int | None] = mapped_column(default=None)
    error: Mapped[str] = mapped_column(String(500), default="")
    duration_ms: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class OutboxEmail(Base):
    """An email waiting to be sent, or sent: ``pending`` → ``sent``, or ``failed`` after the
    last attempt; ``sending`` while a worker holds it (until ``next_attempt_at``)."""

    __tablename__ = "email_outbox"
    __table_args__ = (
        Index("ix_email_outbox_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_email_outbox_reseller_id_id", "reseller_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    reseller_id: Mapped[int | None] = mapped_column(ForeignKey("resellers.id"), default=None)
    event_id: Mapped[int | None] = mapped_column(BigID, ForeignKey("events.id"), default=None)
    from_name: Mapped[str] = mapped_column(String(200), default="")
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str | None] = mapped_column(Text, default=None)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=utcnow)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    # set when it is written, so that one flush writes many events with their emails
    event: Mapped[Event | None] = relationship(lazy="raise")


class OutboxAttachment(Base):
    """A file sent with an outbox email (an invoice's PDF, ...)."""

    __tablename__ = "email_attachments"

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    email_id: Mapped[int] = mapped_column(BigID, ForeignKey("email_outbox.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100))
    content: Mapped[bytes] = mapped_column(LargeBinary)

    email: Mapped[OutboxEmail] = relationship(lazy="raise")
