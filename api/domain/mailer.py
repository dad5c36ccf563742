"""Sending the email outbox over SMTP: the worker's ``email`` job.

Each due message (``pending``, or ``sending`` whose worker's hold ran out) is claimed with one
conditional ``UPDATE … WHERE status IN ('pending', 'sending') AND next_attempt_at <= now``:
only the worker whose statement changed the row sends it, so two workers never send one
message twice while both are alive. The claim holds it for the SMTP timeout plus a minute; a
worker that died while sending leaves it to be taken over after that (the message may then go
twice: mail is delivered at least once).

Sent with the standard library's ``smtplib`` in a thread (``DIALTONE_SMTP_HOST`` /
``_PORT``; optional TLS from the first byte, ``_TLS``, as on port 465, or ``_STARTTLS``, the
server's certificate checked against the system's CAs or ``_CA_FILE``; optional ``AUTH``
with ``_USERNAME`` and ``_PASSWORD``); the envelope and From address are
``DIALTONE_SMTP_FROM``, the From name the reseller's brand name. A temporary failure (no
connection, a timeout, a 4xx answer) is tried again after 1, 2, 4… minutes (at most six hours
apart); a permanent refusal (5xx) or the ``DIALTONE_EMAIL_MAX_ATTEMPTS``-th failure gives the
message up (``failed``, with the last error).
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.db import transaction
from api.models import OutboxAttachment, OutboxEmail
from api.settings import Settings

BATCH = 200
RETRY_FIRST_SECONDS = 60
RETRY_MAX_SECONDS = 6 * 3600
CLAIMABLE = ("pending", "sending")


def retry_delay(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failure: doubling from a minute, at most six hours."""
    return timedelta(
        seconds=min(RETRY_FIRST_SECONDS * 2 ** max(attempts - 1, 0), RETRY_MAX_SECONDS)
    )


class PermanentFailure(Exception):
    """The server refused the message for good (a 5xx answer)."""


def build_message(
    row: OutboxEmail, attachments: list[OutboxAttachment], settings: Settings
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = formataddr((row.from_name, settings.smtp_from))
    message["To"] = row.to_address
    message["Subject"] = row.subject
    message["Date"] = format_datetime(row.created_at)
    domain = settings.smtp_from.rpartition("@")[2] or "localhost"
    message["Message-ID"] = make_msgid(idstring=f"outbox{row.id}", domain=domain)
    message.set_content(row.text_body)
    if row.html_body:
        message.add_alternative(row.html_body, subtype="html")
    for attachment in attachments:
        maintype, _, subtype = attachment.media_type.partition("/")
        message.add_attachment(
            attachment.content,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=attachment.filename,
        )
    return message


def _send(settings: Settings, message: EmailMessage, to: str) -> None:
    """One SMTP conversation (blocking: run in a thread)."""
    tls = ssl.create_default_context(cafile=settings.smtp_ca_file or None)
    address = (settings.smtp_host, settings.smtp_port)
    timeout = settings.smtp_timeout_seconds
    try:
        with (
            smtplib.SMTP_SSL(*address, timeout=timeout, context=tls)
            if settings.smtp_tls
            else smtplib.SMTP(*address, timeout=timeout)
        ) as smtp:
            if settings.smtp_starttls and not settings.smtp_tls:
                smtp.starttls(context=tls)
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password)
            smtp.send_message(message, from_addr=settings.smtp_from, to_addrs=[to])
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        if codes and all(code >= 500 for code in codes):
            raise PermanentFailure(_describe(exc)) from None
        raise
    except smtplib.SMTPResponseException as exc:
        if exc.smtp_code >= 500 and not isinstance(exc, smtplib.SMTPAuthenticationError):
            raise PermanentFailure(_describe(exc)) from None
        raise


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        error = (
            exc.smtp_error.decode(errors="replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        return f"SMTP {exc.smtp_code}: {error}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(
            f"{to}: SMTP {code} {msg.decode(errors='replace')}"
            for to, (code, msg) in exc.recipients.items()
        )
    return f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__


async def claim(
    session: AsyncSession, model: Any, row_id: int, now: datetime, hold: timedelta
) -> Any | None:
    """Take one due row of an outbox-like table (``OutboxEmail``, ``WebhookDelivery``: a
    ``status``, ``attempts`` and ``next_attempt_at``) for one attempt, or None when another
    worker has it: a conditional update whose row count says who won; the row is held for
    ``hold`` (then due again, should this worker die mid-attempt)."""
    claimed = await session.execute(
        update(model)
        .where(model.id == row_id, model.status.in_(CLAIMABLE), model.next_attempt_at <= now)
        .values(status="sending", attempts=model.attempts + 1, next_attempt_at=now + hold)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return None
    return await session.get(model, row_id, populate_existing=True)


async def send_one(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, email_id: int, now: datetime
) -> str | None:
    """Claim and send one message; its status after (None: another worker has it)."""
    hold = timedelta(seconds=settings.smtp_timeout_seconds + 60)
    async with transaction(sessions) as session:
        row = await claim(session, OutboxEmail, email_id, now, hold)
        if row is None:
            return None
        attachments = list(
            await session.scalars(
                select(OutboxAttachment)
                .where(OutboxAttachment.email_id == email_id)
                .order_by(OutboxAttachment.id)
            )
        )
        message = build_message(row, attachments, settings)
        to, attempts = row.to_address, row.attempts
    problem, permanent = "", False
    try:
        await asyncio.to_thread(_send, settings, message, to)
    except PermanentFailure as exc:
        problem, permanent = str(exc), True
    except (smtplib.SMTPException, OSError) as exc:
        problem = _describe(exc)
    async with transaction(sessions) as session:
        row = await session.get(OutboxEmail, email_id, with_for_update=True)
        assert row is not None
        if row.status != "sending" or row.attempts != attempts:  # taken over meanwhile
            return row.status
        if not problem:
            row.status, row.sent_at, row.next_attempt_at, row.last_error = "sent", now, None, ""
        elif permanent or attempts >= settings.email_max_attempts:
            row.status, row.next_attempt_at = "failed", None
            row.last_error = (f"gave up after {attempts} attempts: " + problem)[:500]
        else:
            row.status, row.next_attempt_at = "pending", now + retry_delay(attempts)
            row.last_error = problem[:500]
        await session.flush()
        return row.status


async def send_due(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, now: datetime
) -> int:
    """The worker's job: send every due message; returns how many it tried."""
    async with sessions() as session:
        ids = list(
            await session.scalars(
                select(OutboxEmail.id)
                .where(OutboxEmail.status.in_(CLAIMABLE), OutboxEmail.next_attempt_at <= now)
                .order_by(OutboxEmail.id)
                .limit(BATCH)
            )
        )
    tried = 0
    for email_id in ids:
        if await send_one(sessions, settings, email_id, now) is not None:
            tried += 1
    return tried
