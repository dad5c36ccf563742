"""Outbound events: the one way the platform tells anyone something happened.

Other code calls :func:`publish` in its own transaction (so an alert exists only if the money
that caused it moved)::

    await notifications.publish(
        session,
        reseller_id=client.reseller_id,
        type="client.low_balance",
        data={...},                      # JSON: the event's ``data``
        client_id=client.id,
        emails=[notifications.Email(to="a@b.test", subject="...", text="...")],
    )

It writes one :class:`~api.models.Event` (public id ``evt_…``), one pending
:class:`~api.models.WebhookDelivery` for each active endpoint of the reseller subscribed to the
type, and one :class:`~api.models.OutboxEmail` per email (with its attachments). Nothing is sent
here: ``dialtone worker`` delivers webhooks (``webhooks.outbound``) and sends mail
(``api.domain.mailer``), with retries. :func:`send_email` queues an email without an event.

Code that publishes the events of many clients in one transaction (the status rule over a
chunk of the worker's fees or a call batch, ``accounts.apply_balance_status_many``) does it in
a :func:`batch` block: the per-reseller lookups (owners' emails, webhook endpoints, sender
name) are read once per reseller, the clients' login emails in one statement
(:func:`prefetch_client_emails`), and the rows written in one flush at the block's end, so the
alerts of a thousand clients cost a handful of statements instead of several each. Outside a
block every call reads afresh and :func:`publish` flushes at once.

Webhook endpoints belong to a reseller (the operator manages any, naming the reseller). Each has
a signing secret made here, shown once when it is created, kept encrypted at rest
(``api.domain.secrets``) and decrypted only to sign deliveries.
"""

from __future__ import annotations

import base64
import ipaddress
import secrets as pysecrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from api import i18n
from api.domain import accounts, audit, secrets
from api.domain import validation as v
from api.domain.actors import Actor
from api.domain.errors import DomainError, ErrorCode, invalid, not_found
from api.models import (
    Brand,
    Event,
    OutboxAttachment,
    OutboxEmail,
    Reseller,
    User,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from api.models.base import utcnow
from api.settings import Settings

EVENT_TYPES = (
    "client.low_balance",
    "client.suspended",
    "client.blocked",
    "reseller.low_balance",
    "payment.received",
    "invoice.issued",
    "invoice.overdue",
)
READ = "webhooks:read"
WRITE = "webhooks:write"
DELIVERY_STATUSES = ("pending", "sending", "delivered", "failed")
EMAIL_STATUSES = ("pending", "sending", "sent", "failed")
SECRET_PREFIX = "whsec_"
MAX_ENDPOINTS = 20
ENDPOINT_AUDIT_FIELDS = ("url", "description", "event_types", "is_active")
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class Attachment:
    filename: str
    media_type: str  # e.g. application/pdf
    content: bytes


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    html: str | None = None
    attachments: Sequence[Attachment] = field(default_factory=tuple)
    from_name: str | None = None  # None: the reseller's brand name


def global_id(type_name: str, pk: int) -> str:
    """The GraphQL global id of an object (the same ids the API shows)."""
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


def new_event_uid() -> str:
    return "evt_" + pysecrets.token_hex(16)


# --- publishing --------------------------------------------------------------------------------


async def publish(
    session: AsyncSession,
    *,
    reseller_id: int,
    type: str,
    data: dict[str, Any],
    client_id: int | None = None,
    emails: Iterable[Email] = (),
) -> Event:
    """Record an event of ``reseller_id`` with its webhook deliveries and emails, in the
    caller's transaction (see the module docstring). Inside a :func:`batch` block the rows are
    written when the block ends (the event has no id until then)."""
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type!r}")
    now = utcnow()
    event = Event(
        uid=new_event_uid(),
        type=type,
        reseller_id=reseller_id,
        client_id=client_id,
        data=data,
        created_at=now,
    )
    session.add(event)
    session.add_all(
        WebhookDelivery(
            event=event,
            endpoint_id=endpoint_id,
            reseller_id=reseller_id,
            next_attempt_at=now,
            created_at=now,
        )
        for endpoint_id, event_types in await _endpoints(session, reseller_id)
        if type in event_types
    )
    for email in emails:
        await _queue_email(session, reseller_id=reseller_id, email=email, event=event)
    if _lookups(session) is None:
        await session.flush()
    return event


async def send_email(
    session: AsyncSession,
    *,
    reseller_id: int | None,
    email: Email,
    event_id: int | None = None,
) -> OutboxEmail:
    """Queue one email in the outbox (sent by the worker). From: ``email.from_name`` or the
    brand name of ``reseller_id`` (the operator's brand for None)."""
    row = await _queue_email(session, reseller_id=reseller_id, email=email, event_id=event_id)
    await session.flush()
    return row


async def _queue_email(
    session: AsyncSession,
    *,
    reseller_id: int | None,
    email: Email,
    event: Event | None = None,
    event_id: int | None = None,
) -> OutboxEmail:
    """The outbox row of ``email`` and its attachments, added to the session (not flushed)."""
    to = v.email("to", email.to)
    if not to:
        raise invalid("to", "an email needs a recipient")
    for attachment in email.attachments:
        if len(attachment.content) > MAX_ATTACHMENT_BYTES:
            raise invalid("attachments", f"{attachment.filename} is too large to send")
    from_name = email.from_name
    if from_name is None:
        from_name = await sender_name(session, reseller_id)
    row = OutboxEmail(
        reseller_id=reseller_id,
        event_id=event_id,
        from_name=_one_line(from_name)[:200],
        to_address=to,
        subject=_one_line(email.subject)[:300],
        text_body=email.text,
        html_body=email.html,
        next_attempt_at=utcnow(),
    )
    if event is not None:
        row.event = event
    session.add(row)
    session.add_all(
        OutboxAttachment(
            email=row,
            filename=_one_line(a.filename)[:255] or "attachment",
            media_type=a.media_type,
            content=a.content,
        )
        for a in email.attachments
    )
    return row


# --- lookups of a batch ------------------------------------------------------------------------

_LOOKUPS = "notifications.lookups"


@asynccontextmanager
async def batch(session: AsyncSession) -> AsyncIterator[None]:
    """A block that publishes many events in one transaction (the alerts of a chunk of the
    worker's fees, of a call batch): inside it, what is looked up per reseller (its owners'
    emails, its webhook endpoints, the sender name) and per client (its emails, see
    :func:`prefetch_client_emails`) is read once, and the events, deliveries and emails are
    written in one flush when the block ends. Nothing inside the block may change what those
    lookups read. Blocks nest: the outermost one writes."""
    if _lookups(session) is not None:
        yield
        return
    session.info[_LOOKUPS] = {}
    try:
        yield
        await session.flush()
    finally:
        session.info.pop(_LOOKUPS, None)


def _lookups(session: AsyncSession) -> dict[tuple, Any] | None:
    return session.info.get(_LOOKUPS)


async def _looked_up(session: AsyncSession, key: tuple, read: Callable[[], Awaitable[Any]]) -> Any:
    """``read()``, once per :func:`batch` block for ``key`` (every time outside one)."""
    cache = _lookups(session)
    if cache is None:
        return await read()
    if key not in cache:
        cache[key] = await read()
    return cache[key]


async def _endpoints(session: AsyncSession, reseller_id: int) -> list[tuple[int, list[str]]]:
    """The reseller's active endpoints: (id, event types)."""

    async def read() -> list[tuple[int, list[str]]]:
        rows = await session.execute(
            select(WebhookEndpoint.id, WebhookEndpoint.event_types)
            .where(
                WebhookEndpoint.reseller_id == reseller_id,
                WebhookEndpoint.is_active.is_(True),
                WebhookEndpoint.deleted_at.is_(None),
            )
            .order_by(WebhookEndpoint.id)
        )
        return [(row.id, list(row.event_types or ())) for row in rows]

    return await _looked_up(session, ("endpoints", reseller_id), read)


def _one_line(text: str) -> str:
    return " ".join(text.split())


async def sender_name(session: AsyncSession, reseller_id: int | None) -> str:
    """The From name of a reseller's mail: its brand's display name, else its own name; the
    operator's: its default brand's display name, else empty (the bare address)."""

    async def read() -> str:
        brand_name = await session.scalar(
            select(Brand.display_name).where(
                Brand.reseller_id.is_(None)
                if reseller_id is None
                else Brand.reseller_id == reseller_id
            )
        )
        if brand_name:
            return brand_name
        if reseller_id is None:
            return ""
        return await session.scalar(select(Reseller.name).where(Reseller.id == reseller_id)) or ""

    return await _looked_up(session, ("sender_name", reseller_id), read)


async def client_language(session: AsyncSession, client) -> str:
    """The language of a client's mail and documents: its own, else its reseller's brand's
    default, else English (``api.i18n.language_of``)."""
    own = i18n.supported(client.language)
    if own:
        return own

    async def read() -> str:
        return (
            await session.scalar(
                select(Brand.default_language).where(Brand.reseller_id == client.reseller_id)
            )
            or ""
        )

    brand = await _looked_up(session, ("brand_language", client.reseller_id), read)
    return i18n.language_of(None, brand)


def _deliverable(addresses: Iterable[str]) -> list[str]:
    """The addresses mail can be queued for (an alert never fails on a bad stored one)."""
    out = []
    for address in addresses:
        try:
            if v.email("to", address) and address not in out:
                out.append(address)
        except DomainError:
            continue
    return out


async def reseller_emails(session: AsyncSession, reseller_id: int) -> list[str]:
    """Where mail for a reseller goes: the emails of its active owners."""

    async def read() -> list[str]:
        rows = await session.scalars(
            select(User.email)
            .where(
                User.reseller_id == reseller_id,
                User.role == "reseller_owner",
                User.is_active.is_(True),
            )
            .order_by(User.id)
        )
        return _deliverable(rows)

    return list(await _looked_up(session, ("reseller_emails", reseller_id), read))


async def client_emails(session: AsyncSession, client) -> list[str]:
    """Where mail for a client goes: its contact email, else its portal logins' emails."""
    if client.email:
        return _deliverable([client.email])

    async def read() -> list[str]:
        return (await _logins_emails(session, [client.id]))[client.id]

    return list(await _looked_up(session, ("client_emails", client.id), read))


async def prefetch_client_emails(session: AsyncSession, clients: Iterable[Any]) -> None:
    """Inside a :func:`batch` block: read the portal logins' emails of the ``clients`` that
    have no contact email in one statement, for :func:`client_emails` to find."""
    cache = _lookups(session)
    if cache is None:
        return
    ids = [c.id for c in clients if not c.email and ("client_emails", c.id) not in cache]
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        for client_id, emails in (await _logins_emails(session, chunk)).items():
            cache["client_emails", client_id] = emails


async def _logins_emails(session: AsyncSession, client_ids: list[int]) -> dict[int, list[str]]:
    """The deliverable emails of the active portal logins of each client, in login order."""
    found: dict[int, list[str]] = {client_id: [] for client_id in client_ids}
    rows = await session.execute(
        select(User.client_id, User.email)
        .where(User.client_id.in_(client_ids), User.is_active.is_(True))
        .order_by(User.id)
    )
    for row in rows:
        found[row.client_id].append(row.email)
    return {client_id: _deliverable(emails) for client_id, emails in found.items()}


# --- webhook endpoints -------------------------------------------------------------------------


def public_address(address: str) -> bool:
    """Whether an IP address is on the public internet (not loopback, private, link-local,
    reserved, ...; IPv4 inside IPv6 is judged as IPv4)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _check_host(host: str, settings: Settings) -> None:
    """Endpoints must be on the public internet unless DIALTONE_WEBHOOK_ALLOW_PRIVATE is on:
    a reseller cannot make the platform POST to its own network. (Names are resolved and
    checked again at each delivery.)"""
    if settings.webhook_allow_private:
        return
    try:
        public = public_address(host)
    except ValueError:  # a name, not an address
        public = host != "localhost" and not host.endswith((".localhost", ".local", ".internal"))
    if not public:
        raise invalid("url", "the URL must name a host on the public internet")


def _clean_url(value: Any, settings: Settings) -> str:
    url = v.text("url", value, max_len=2000, required=True)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise invalid("url", "not a valid URL") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise invalid("url", "give an absolute http:// or https:// URL")
    if parts.username or parts.password:
        raise invalid("url", "put no credentials in the URL; verify the signature instead")
    if port == 0 or parts.fragment:
        raise invalid("url", "not a valid webhook URL")
    _check_host(parts.hostname, settings)
    return url


def _clean_types(value: Any) -> list[str]:
    if not isinstance(value, list | tuple) or not value:
        raise invalid("eventTypes", "choose at least one event type")
    unknown = sorted({t for t in value if t not in EVENT_TYPES})
    if unknown:
        raise invalid(
            "eventTypes",
            f"unknown event types {', '.join(unknown)}; choose from {', '.join(EVENT_TYPES)}",
        )
    return [t for t in EVENT_TYPES if t in value]


def _clean_endpoint(data: dict[str, Any], settings: Settings, *, creating: bool) -> dict[str, Any]:
    return v.clean(
        data,
        {
            "url": lambda x: _clean_url(x, settings),
            "description": lambda x: v.text("description", x, max_len=200),
            "event_types": _clean_types,
            "is_active": bool,
        },
        (("url", "url"), ("event_types", "eventTypes")) if creating else (),
    )


def new_secret() -> str:
    return SECRET_PREFIX + pysecrets.token_hex(24)


async def _owner(session: AsyncSession, actor: Actor, reseller_id: int | None) -> Reseller:
    reseller = await accounts.acting_reseller(session, actor, reseller_id, WRITE)
    if reseller is None:
        raise invalid("resellerId", "name the reseller whose endpoint it is")
    return reseller


async def create_endpoint(
    session: AsyncSession,
    actor: Actor,
    reseller_id: int | None,
    data: dict[str, Any],
    *,
    settings: Settings,
) -> tuple[WebhookEndpoint, str]:
    """Register a URL for the chosen event types; returns it and its signing secret, which
    is shown this once."""
    reseller = await _owner(session, actor, reseller_id)
    fields = _clean_endpoint(data, settings, creating=True)
    count = len(
        list(
            await session.scalars(
                select(WebhookEndpoint.id).where(
                    WebhookEndpoint.reseller_id == reseller.id,
                    WebhookEndpoint.deleted_at.is_(None),
                )
            )
        )
    )
    if count >= MAX_ENDPOINTS:
        raise DomainError(
            ErrorCode.CONFLICT, f"a reseller has at most {MAX_ENDPOINTS} webhook endpoints", "url"
        )
    secret = new_secret()
    endpoint = WebhookEndpoint(
        reseller_id=reseller.id,
        secret_encrypted=secrets.encrypt(settings.secret_key, secret),
        **fields,
    )
    session.add(endpoint)
    await session.flush()
    await audit.record(
        session,
        actor,
        subject_type="webhook_endpoint",
        subject_id=endpoint.id,
        action="webhook_endpoint.created",
        reseller_id=reseller.id,
        after=audit.snapshot(endpoint, ENDPOINT_AUDIT_FIELDS),
    )
    return endpoint, secret


def endpoint_secret(endpoint: WebhookEndpoint, settings: Settings) -> str:
    """The endpoint's signing secret in the clear, to sign a delivery with."""
    return secrets.decrypt(settings.secret_key, endpoint.secret_encrypted)


def _visible(actor: Actor, reseller_id: int) -> bool:
    return actor.client_id is None and actor.can(READ) and actor.sees_reseller(reseller_id)


async def get_endpoint(
    session: AsyncSession, actor: Actor, endpoint_id: int, *, field: str = "id"
) -> WebhookEndpoint:
    endpoint = await session.get(WebhookEndpoint, endpoint_id)
    if (
        endpoint is None
        or endpoint.deleted_at is not None
        or not _visible(actor, endpoint.reseller_id)
    ):
        raise not_found("webhook endpoint", field)
    return endpoint


async def _endpoint_for_write(
    session: AsyncSession, actor: Actor, endpoint_id: int
) -> WebhookEndpoint:
    actor.require(WRITE)
    return await get_endpoint(session, actor, endpoint_id)


async def update_endpoint(
    session: AsyncSession,
    actor: Actor,
    endpoint_id: int,
    data: dict[str, Any],
    *,
    settings: Settings,
) -> WebhookEndpoint:
    """Change an endpoint's URL, description, event types or active flag (inactive: new
    events are not delivered to it; pending deliveries still are)."""
    endpoint = await _endpoint_for_write(session, actor, endpoint_id)
    fields = _clean_endpoint(data, settings, creating=False)
    await audit.apply_changes(
        session,
        actor,
        endpoint,
        fields,
        audited=ENDPOINT_AUDIT_FIELDS,
        subject_type="webhook_endpoint",
        reseller_id=endpoint.reseller_id,
    )
    return endpoint


async def delete_endpoint(session: AsyncSession, actor: Actor, endpoint_id: int) -> int:
    """Delete an endpoint: nothing more is sent to it (its waiting deliveries fail), its
    history stays readable through its events. Returns its id."""
    endpoint = await _endpoint_for_write(session, actor, endpoint_id)
    now = utcnow()
    endpoint.deleted_at, endpoint.is_active = now, False
    await session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.endpoint_id == endpoint.id,
            WebhookDelivery.status.in_(("pending", "sending")),
        )
        .values(status="failed", next_attempt_at=None, last_error="the endpoint was deleted")
        .execution_options(synchronize_session=False)
    )
    await session.flush()
    await audit.record(
        session,
        actor,
        subject_type="webhook_endpoint",
        subject_id=endpoint.id,
        action="webhook_endpoint.deleted",
        reseller_id=endpoint.reseller_id,
        before=audit.snapshot(endpoint, ENDPOINT_AUDIT_FIELDS),
    )
    return endpoint.id


def endpoints_query(actor: Actor, *, reseller_id: int | None = None) -> Select:
    stmt = select(WebhookEndpoint).where(WebhookEndpoint.deleted_at.is_(None))
    return _scoped(stmt, WebhookEndpoint.reseller_id, actor, reseller_id)


def _scoped(stmt: Select, column: Any, actor: Actor, reseller_id: int | None) -> Select:
    if not actor.is_authenticated or actor.client_id is not None or not actor.can(READ):
        return stmt.where(False)
    if not actor.is_operator:
        stmt = stmt.where(column == actor.reseller_id)
    if reseller_id is not None:
        stmt = stmt.where(column == reseller_id)
    return stmt


# --- events, deliveries, attempts: reading and retrying ----------------------------------------


def events_query(actor: Actor, *, type: str | None = None) -> Select:
    stmt = select(Event)
    if type is not None:
        stmt = stmt.where(Event.type == type)
    return _scoped(stmt, Event.reseller_id, actor, None)


async def get_event(session: AsyncSession, actor: Actor, event_id: int) -> Event:
    event = await session.get(Event, event_id)
    if event is None or not _visible(actor, event.reseller_id):
        raise not_found("event")
    return event


def deliveries_query(
    actor: Actor,
    *,
    status: str | None = None,
    endpoint_id: int | None = None,
    event_id: int | None = None,
) -> Select:
    stmt = select(WebhookDelivery)
    if status is not None:
        stmt = stmt.where(WebhookDelivery.status == status)
    if endpoint_id is not None:
        stmt = stmt.where(WebhookDelivery.endpoint_id == endpoint_id)
    if event_id is not None:
        stmt = stmt.where(WebhookDelivery.event_id == event_id)
    return _scoped(stmt, WebhookDelivery.reseller_id, actor, None)


async def get_delivery(
    session: AsyncSession, actor: Actor, delivery_id: int, *, field: str = "id"
) -> WebhookDelivery:
    delivery = await session.get(WebhookDelivery, delivery_id)
    if delivery is None or not _visible(actor, delivery.reseller_id):
        raise not_found("webhook delivery", field)
    return delivery


async def attempts_of(session: AsyncSession, delivery_ids: list[int]) -> dict[int, list]:
    rows = await session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id.in_(delivery_ids))
        .order_by(WebhookAttempt.delivery_id, WebhookAttempt.number)
    )
    out: dict[int, list] = {i: [] for i in delivery_ids}
    for row in rows:
        out[row.delivery_id].append(row)
    return out


async def retry_delivery(session: AsyncSession, actor: Actor, delivery_id: int) -> WebhookDelivery:
    """Send a failed delivery again now (its attempts start over), or hurry a pending one."""
    actor.require(WRITE)
    delivery = await get_delivery(session, actor, delivery_id)
    await session.refresh(delivery, with_for_update=True)
    if delivery.status == "delivered":
        raise DomainError(ErrorCode.CONFLICT, "this delivery has already been delivered", "id")
    if delivery.status == "sending":
        raise DomainError(ErrorCode.CONFLICT, "this delivery is being sent right now", "id")
    endpoint = await session.get(WebhookEndpoint, delivery.endpoint_id)
    if endpoint is None or endpoint.deleted_at is not None:
        raise DomainError(ErrorCode.CONFLICT, "its endpoint was deleted", "id")
    if delivery.status == "failed":
        delivery.attempts = 0
    delivery.status, delivery.next_attempt_at = "pending", utcnow()
    await session.flush()
    await audit.record(
        session,
        actor,
        subject_type="webhook_delivery",
        subject_id=delivery.id,
        action="webhook_delivery.retried",
        reseller_id=delivery.reseller_id,
    )
    return delivery


def outbox_query(actor: Actor, *, status: str | None = None) -> Select:
    """Outbox emails the actor may read: all (operator), the reseller's own."""
    stmt = select(OutboxEmail)
    if status is not None:
        stmt = stmt.where(OutboxEmail.status == status)
    return _scoped(stmt, OutboxEmail.reseller_id, actor, None)


async def get_outbox_email(session: AsyncSession, actor: Actor, email_id: int) -> OutboxEmail:
    row = await session.get(OutboxEmail, email_id)
    if (
        row is None
        or not (actor.is_operator if row.reseller_id is None else _visible(actor, row.reseller_id))
        or not actor.can(READ)
    ):
        raise not_found("email")
    return row
