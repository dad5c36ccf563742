"""Outbound webhooks: POSTing events to resellers' endpoints, signed: the worker's ``webhooks`` job.

Each delivery is one POST of the JSON body ``{"id", "type", "created", "data"}`` with::

    Content-Type: application/json
    Dialtone-Event-Id: evt_…            (the same in every attempt: deduplicate on it)
    Dialtone-Event-Type: client.low_balance
    Dialtone-Delivery-Attempt: 1
    Dialtone-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">

keyed by the endpoint's secret (``whsec_…``, shown when it was created). The receiver
recomputes the HMAC over the exact bytes it received, compares in constant time, and refuses
a ``t`` too far from its clock (replays).

A 2xx answer delivers it. Anything else (another status, a timeout of
``DIALTONE_WEBHOOK_TIMEOUT_SECONDS``, no connection) is tried again after 1, 2, 4… minutes (at
most six hours apart) until ``DIALTONE_WEBHOOK_MAX_ATTEMPTS`` attempts failed (``failed``).
Redirects are not followed. Unless ``DIALTONE_WEBHOOK_ALLOW_PRIVATE`` is on, the host's name
is resolved before each attempt and refused (a failed attempt) when any of its addresses is not
public (loopback, private, link-local, ...). Every attempt is recorded (``WebhookAttempt``).
Deliveries are claimed like the email outbox's (``api.domain.mailer``): one conditional
``UPDATE``, held for the timeout plus a minute.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import time
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.db import transaction
from api.domain import notifications, secrets
from api.domain.mailer import CLAIMABLE, claim, retry_delay
from api.models import Event, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from api.settings import Settings

BATCH = 200
SIGNATURE_HEADER = "Dialtone-Signature"
EVENT_ID_HEADER = "Dialtone-Event-Id"
USER_AGENT = "Dialtone-Webhooks/1"


def body_of(event: Event) -> bytes:
    """The exact bytes POSTed for an event (the same in every attempt)."""
    return json.dumps(
        {
            "id": event.uid,
            "type": event.type,
            "created": event.created_at.isoformat(),
            "data": event.data,
        },
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Dialtone-Signature`` header of ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def headers_for(event: Event, secret: str, body: bytes, attempt: int) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_ID_HEADER: event.uid,
        "Dialtone-Event-Type": event.type,
        "Dialtone-Delivery-Attempt": str(attempt),
        SIGNATURE_HEADER: signature(secret, int(time.time()), body),
    }


async def _refused(url: str, settings: Settings) -> str:
    """Why the URL's host may not be POSTed to now ("" if it may): every address its name
    resolves to must be public, unless DIALTONE_WEBHOOK_ALLOW_PRIVATE is on."""
    if settings.webhook_allow_private:
        return ""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        return f"cannot resolve {host}: {exc}"[:500]
    if not infos or not all(notifications.public_address(info[4][0]) for info in infos):
        return f"refused: {host} resolves to an address that is not public"
    return ""


async def _post(
    client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]
) -> tuple[int | None, str]:
    """POST once: the answer's status (None: no answer) and what went wrong ("" for 2xx)."""
    try:
        async with client.stream("POST", url, content=body, headers=headers) as response:
            code = response.status_code
    except httpx.TimeoutException:
        return None, "timed out"
    except httpx.HTTPError as exc:
        return None, f"{exc.__class__.__name__}: {exc}"[:500] if str(
            exc
        ) else exc.__class__.__name__
    return code, "" if 200 <= code < 300 else f"HTTP {code}"


async def deliver_one(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    delivery_id: int,
    now: datetime,
    client: httpx.AsyncClient,
) -> str | None:
    """Claim and POST one delivery; its status after (None: another worker has it)."""
    hold = timedelta(seconds=settings.webhook_timeout_seconds + 60)
    async with transaction(sessions) as session:
        delivery = await claim(session, WebhookDelivery, delivery_id, now, hold)
        if delivery is None:
            return None
        event = await session.get(Event, delivery.event_id)
        endpoint = await session.get(WebhookEndpoint, delivery.endpoint_id)
        assert event is not None and endpoint is not None
        attempt, url = delivery.attempts, endpoint.url
        body = body_of(event)
        try:
            secret = notifications.endpoint_secret(endpoint, settings)
        except secrets.SecretUnreadable:
            secret = None
        headers = headers_for(event, secret, body, attempt) if secret else {}
    started = time.monotonic()
    code: int | None = None
    if secret is None:
        problem = "the endpoint's secret was stored under another secret key"
    else:
        problem = await _refused(url, settings)
        if not problem:
            code, problem = await _post(client, url, body, headers)
    duration_ms = int((time.monotonic() - started) * 1000)
    async with transaction(sessions) as session:
        delivery = await session.get(WebhookDelivery, delivery_id, with_for_update=True)
        assert delivery is not None
        if delivery.status != "sending" or delivery.attempts != attempt:  # taken over
            return delivery.status
        delivery.last_status_code, delivery.last_error = code, problem
        if not problem:
            delivery.status, delivery.delivered_at, delivery.next_attempt_at = (
                "delivered",
                now,
                None,
            )
        elif attempt >= settings.webhook_max_attempts:
            delivery.status, delivery.next_attempt_at = "failed", None
        else:
            delivery.status, delivery.next_attempt_at = "pending", now + retry_delay(attempt)
        session.add(
            WebhookAttempt(
                delivery_id=delivery.id,
                number=attempt,
                attempted_at=now,
                succeeded=not problem,
                status_code=code,
                error=problem,
                duration_ms=duration_ms,
                next_attempt_at=delivery.next_attempt_at,
            )
        )
        await session.flush()
        return delivery.status


async def deliver_due(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, now: datetime
) -> int:
    """The worker's job: POST every due delivery; returns how many it tried."""
    async with sessions() as session:
        ids = list(
            await session.scalars(
                select(WebhookDelivery.id)
                .where(
                    WebhookDelivery.status.in_(CLAIMABLE), WebhookDelivery.next_attempt_at <= now
                )
                .order_by(WebhookDelivery.id)
                .limit(BATCH)
            )
        )
    if not ids:
        return 0
    tried = 0
    timeout = httpx.Timeout(settings.webhook_timeout_seconds)
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
        for delivery_id in ids:
            if await deliver_one(sessions, settings, delivery_id, now, client) is not None:
                tried += 1
    return tried
