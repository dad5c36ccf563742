"""Outbound events: webhook endpoints, events with their deliveries and attempts, the email
outbox. Assembled as ``NotificationsQuery`` / ``NotificationsMutation`` (bases in schema.py)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import Enum

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from api.domain import notifications as domain
from api.resolvers.context import Info
from api.schema.common import Connection, UserError
from api.schema.types import Client, _resolve_scoped

ERRORS = "Expected failures; when not empty, nothing was changed."

WebhookEventType = strawberry.enum(
    Enum("WebhookEventType", {t.replace(".", "_").upper(): t for t in domain.EVENT_TYPES}),
    description=(
        "What happened: CLIENT_LOW_BALANCE / RESELLER_LOW_BALANCE (a balance crossed below "
        "its threshold), CLIENT_SUSPENDED, PAYMENT_RECEIVED, INVOICE_ISSUED, INVOICE_OVERDUE. "
        "In payloads the type is written lower-case with a dot: client.low_balance."
    ),
)
WebhookDeliveryStatus = strawberry.enum(
    Enum("WebhookDeliveryStatus", {s.upper(): s for s in domain.DELIVERY_STATUSES}),
    description="PENDING (waiting for its next attempt), SENDING (being POSTed), DELIVERED "
    "(answered 2xx) or FAILED (given up after the last attempt, or its endpoint was deleted).",
)
EmailStatus = strawberry.enum(
    Enum("EmailStatus", {s.upper(): s for s in domain.EMAIL_STATUSES}),
    description="PENDING (waiting for its next attempt), SENDING, SENT, or FAILED (refused "
    "for good, or given up after the last attempt).",
)


@strawberry.type(description="A reseller's URL that receives the events it chose, signed.")
class WebhookEndpoint(relay.Node):
    id: relay.NodeID[int]
    url: str = strawberry.field(description="Where events are POSTed.")
    description: str = strawberry.field(description="The reseller's note about it.")
    event_types: list[WebhookEventType] = strawberry.field(description="The events it gets.")
    active: bool = strawberry.field(description="Whether new events are delivered to it.")
    created_at: datetime = strawberry.field(description="When it was registered (UTC).")
    updated_at: datetime = strawberry.field(description="When it last changed (UTC).")
    reseller_pk: strawberry.Private[int]

    @classmethod
    def from_model(cls, row) -> WebhookEndpoint:
        return cls(
            id=row.id,
            url=row.url,
            description=row.description,
            event_types=[WebhookEventType(t) for t in row.event_types],
            active=row.is_active,
            created_at=row.created_at,
            updated_at=row.updated_at,
            reseller_pk=row.reseller_id,
        )

    @strawberry.field(description="The reseller whose endpoint it is.")
    def reseller_id(self) -> relay.GlobalID:
        return relay.GlobalID("Reseller", str(self.reseller_pk))

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False):
        return await _resolve_scoped(cls, info, node_ids, domain.get_endpoint)


@strawberry.type(description="One POST of a delivery and what came of it.")
class WebhookAttempt:
    number: int = strawberry.field(description="1 for the first attempt, 2 for the next, ...")
    attempted_at: datetime = strawberry.field(description="When it was made (UTC).")
    succeeded: bool = strawberry.field(description="Whether the endpoint answered 2xx.")
    status_code: int | None = strawberry.field(description="The HTTP status; null: no answer.")
    error: str = strawberry.field(description="What went wrong (empty when it succeeded).")
    duration_ms: int = strawberry.field(description="How long the POST took, in milliseconds.")
    next_attempt_at: datetime | None = strawberry.field(
        description="When the next attempt was scheduled; null: none (delivered or given up)."
    )

    @classmethod
    def from_model(cls, row) -> WebhookAttempt:
        return cls(
            number=row.number,
            attempted_at=row.attempted_at,
            succeeded=row.succeeded,
            status_code=row.status_code,
            error=row.error,
            duration_ms=row.duration_ms,
            next_attempt_at=row.next_attempt_at,
        )


@strawberry.type(description="An outbound event: something that happened to the reseller.")
class WebhookEvent(relay.Node):
    id: relay.NodeID[int]
    event_id: str = strawberry.field(
        description="The event's public id (evt_…): the Dialtone-Event-Id header and the "
        "payload's id, the same in every delivery."
    )
    type: WebhookEventType = strawberry.field(description="What happened.")
    data: JSON = strawberry.field(description="The payload's data object.")
    created_at: datetime = strawberry.field(description="When it happened (UTC).")
    client_pk: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, row) -> WebhookEvent:
        return cls(
            id=row.id,
            event_id=row.uid,
            type=WebhookEventType(row.type),
            data=row.data,
            created_at=row.created_at,
            client_pk=row.client_id,
        )

    @strawberry.field(description="The client it is about, if any.")
    async def client(self, info: Info) -> Client | None:
        if self.client_pk is None:
            return None
        row = await info.context.loaders.client.load(self.client_pk)
        return None if row is None else Client.from_model(row)

    @strawberry.field(description="Its deliveries, one per endpoint that chose its type.")
    async def deliveries(self, info: Info) -> list[WebhookDelivery]:
        rows = await info.context.loaders.event_deliveries.load(self.id)
        return [WebhookDelivery.from_model(row) for row in rows]

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False):
        return await _resolve_scoped(cls, info, node_ids, domain.get_event)


@strawberry.type(description="One event to one endpoint, with its attempts.")
class WebhookDelivery(relay.Node):
    id: relay.NodeID[int]
    status: WebhookDeliveryStatus = strawberry.field(description="Where it stands.")
    attempt_count: int = strawberry.field(description="Attempts made so far.")
    next_attempt_at: datetime | None = strawberry.field(
        description="When it is tried next (UTC); null once delivered or failed."
    )
    last_status_code: int | None = strawberry.field(
        description="The HTTP status of the last attempt; null: no answer (or none yet)."
    )
    last_error: str = strawberry.field(description="What went wrong the last time.")
    created_at: datetime = strawberry.field(description="When it was queued (UTC).")
    delivered_at: datetime | None = strawberry.field(description="When it was delivered.")
    event_pk: strawberry.Private[int]
    endpoint_pk: strawberry.Private[int]

    @classmethod
    def from_model(cls, row) -> WebhookDelivery:
        return cls(
            id=row.id,
            status=WebhookDeliveryStatus(row.status),
            attempt_count=row.attempts,
            next_attempt_at=row.next_attempt_at,
            last_status_code=row.last_status_code,
            last_error=row.last_error,
            created_at=row.created_at,
            delivered_at=row.delivered_at,
            event_pk=row.event_id,
            endpoint_pk=row.endpoint_id,
        )

    @strawberry.field(description="The event delivered.")
    async def event(self, info: Info) -> WebhookEvent:
        return WebhookEvent.from_model(await info.context.loaders.event.load(self.event_pk))

    @strawberry.field(description="The global id of the endpoint (also once it is deleted).")
    def endpoint_id(self) -> relay.GlobalID:
        return relay.GlobalID("WebhookEndpoint", str(self.endpoint_pk))

    @strawberry.field(description="The endpoint it goes to; null once the endpoint is deleted.")
    async def endpoint(self, info: Info) -> WebhookEndpoint | None:
        row = await info.context.loaders.webhook_endpoint.load(self.endpoint_pk)
        if row is None or row.deleted_at is not None:
            return None
        return WebhookEndpoint.from_model(row)

    @strawberry.field(description="Every attempt, oldest first.")
    async def attempts(self, info: Info) -> list[WebhookAttempt]:
        rows = await info.context.loaders.webhook_attempts.load(self.id)
        return [WebhookAttempt.from_model(row) for row in rows]

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False):
        return await _resolve_scoped(cls, info, node_ids, domain.get_delivery)


@strawberry.type(description="An email of the outbox: queued, sent, or given up.")
class OutboxEmail(relay.Node):
    id: relay.NodeID[int]
    to: str = strawberry.field(description="The recipient.")
    from_name: str = strawberry.field(description="The From name (the brand's).")
    subject: str = strawberry.field(description="The subject.")
    text_body: str = strawberry.field(description="The plain-text body.")
    status: EmailStatus = strawberry.field(description="Where it stands.")
    attempt_count: int = strawberry.field(description="Sending attempts so far.")
    next_attempt_at: datetime | None = strawberry.field(
        description="When it is tried next (UTC); null once sent or failed."
    )
    last_error: str = strawberry.field(description="What went wrong the last time.")
    created_at: datetime = strawberry.field(description="When it was queued (UTC).")
    sent_at: datetime | None = strawberry.field(description="When it was sent (UTC).")
    event_pk: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, row) -> OutboxEmail:
        return cls(
            id=row.id,
            to=row.to_address,
            from_name=row.from_name,
            subject=row.subject,
            text_body=row.text_body,
            status=EmailStatus(row.status),
            attempt_count=row.attempts,
            next_attempt_at=row.next_attempt_at,
            last_error=row.last_error,
            created_at=row.created_at,
            sent_at=row.sent_at,
            event_pk=row.event_id,
        )

    @strawberry.field(description="The global id of the event it tells about, if any.")
    def event_id(self) -> relay.GlobalID | None:
        return None if self.event_pk is None else relay.GlobalID("WebhookEvent", str(self.event_pk))

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False):
        return await _resolve_scoped(cls, info, node_ids, domain.get_outbox_email)


# --- inputs ------------------------------------------------------------------------------------


@strawberry.input(description="A URL to receive events.")
class WebhookEndpointCreateInput:
    url: str = strawberry.field(description="An absolute http:// or https:// URL.")
    event_types: list[WebhookEventType] = strawberry.field(description="The events it gets.")
    description: str | None = strawberry.field(default=None, description="A note about it.")
    reseller_id: relay.GlobalID | None = strawberry.field(
        default=None,
        description="Whose endpoint: the operator names the reseller; omitted, the viewer's own.",
    )


@strawberry.input(description="Changes of an endpoint; omitted fields stay as they are.")
class WebhookEndpointUpdateInput:
    id: relay.GlobalID = strawberry.field(description="The endpoint.")
    url: str | None = strawberry.field(default=None, description="A new URL.")
    event_types: list[WebhookEventType] | None = strawberry.field(
        default=None, description="The events it gets, instead of the current ones."
    )
    description: str | None = strawberry.field(default=None, description="A new note.")
    active: bool | None = strawberry.field(
        default=None, description="False: new events are not delivered to it."
    )


@strawberry.input(description="The endpoint to delete.")
class WebhookEndpointDeleteInput:
    id: relay.GlobalID = strawberry.field(description="The endpoint.")


@strawberry.input(description="The delivery to send again now.")
class WebhookDeliveryRetryInput:
    id: relay.GlobalID = strawberry.field(description="The delivery.")


# --- payloads ----------------------------------------------------------------------------------


@strawberry.type(description="An endpoint registered, with its signing secret.")
class WebhookEndpointCreatePayload:
    errors: list[UserError] = strawberry.field(description=ERRORS)
    endpoint: WebhookEndpoint | None = strawberry.field(default=None, description="The endpoint.")
    secret: str | None = strawberry.field(
        default=None,
        description="The signing secret (whsec_…): shown this once, keep it to verify the "
        "Dialtone-Signature header.",
    )


@strawberry.type(description="An endpoint changed.")
class WebhookEndpointPayload:
    errors: list[UserError] = strawberry.field(description=ERRORS)
    endpoint: WebhookEndpoint | None = strawberry.field(default=None, description="The endpoint.")


@strawberry.type(description="An endpoint deleted.")
class WebhookEndpointDeletePayload:
    errors: list[UserError] = strawberry.field(description=ERRORS)
    deleted_id: relay.GlobalID | None = strawberry.field(
        default=None, description="The global id of the deleted endpoint."
    )


@strawberry.type(description="A delivery queued to be sent again.")
class WebhookDeliveryPayload:
    errors: list[UserError] = strawberry.field(description=ERRORS)
    delivery: WebhookDelivery | None = strawberry.field(default=None, description="The delivery.")


# --- root fields -------------------------------------------------------------------------------

from api.resolvers import notifications as r  # noqa: E402  (resolvers use the types above)


@strawberry.type(description="Reads of outbound events and email.")
class NotificationsQuery:
    webhook_endpoints: Connection[WebhookEndpoint] = strawberry.field(
        resolver=r.webhook_endpoints,
        description="Webhook endpoints: the reseller's own, or any (operator).",
    )
    webhook_events: Connection[WebhookEvent] = strawberry.field(
        resolver=r.webhook_events,
        description="Outbound events, newest first, with their deliveries and attempts.",
    )
    webhook_deliveries: Connection[WebhookDelivery] = strawberry.field(
        resolver=r.webhook_deliveries,
        description="Webhook deliveries, newest first, with their attempts.",
    )
    email_outbox: Connection[OutboxEmail] = strawberry.field(
        resolver=r.email_outbox,
        description="Emails sent or waiting, newest first: the reseller's, or all (operator).",
    )


@strawberry.type(description="Changes of outbound events.")
class NotificationsMutation:
    webhook_endpoint_create: WebhookEndpointCreatePayload = strawberry.mutation(
        resolver=r.webhook_endpoint_create,
        description="Register a URL for chosen events; returns its signing secret once.",
    )
    webhook_endpoint_update: WebhookEndpointPayload = strawberry.mutation(
        resolver=r.webhook_endpoint_update,
        description="Change an endpoint's URL, events, note or active flag.",
    )
    webhook_endpoint_delete: WebhookEndpointDeletePayload = strawberry.mutation(
        resolver=r.webhook_endpoint_delete,
        description="Delete an endpoint: nothing more is sent to it; its history stays.",
    )
    webhook_delivery_retry: WebhookDeliveryPayload = strawberry.mutation(
        resolver=r.webhook_delivery_retry,
        description="Send a failed (or waiting) delivery again now.",
    )
