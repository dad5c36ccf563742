"""Outbound events: thin resolvers over api.domain.notifications."""

from __future__ import annotations

from typing import Annotated

from strawberry import relay

from api.domain import notifications
from api.domain.actors import Actor
from api.models import Event as EventRow
from api.models import OutboxEmail as OutboxRow
from api.models import WebhookDelivery as DeliveryRow
from api.models import WebhookEndpoint as EndpointRow
from api.resolvers.context import Info
from api.resolvers.mutations import node_pk, run
from api.resolvers.pagination import paginate
from api.schema.common import INPUT, After, Connection, First, described
from api.schema.notifications import (
    EmailStatus,
    OutboxEmail,
    WebhookDelivery,
    WebhookDeliveryPayload,
    WebhookDeliveryRetryInput,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEndpointCreateInput,
    WebhookEndpointCreatePayload,
    WebhookEndpointDeleteInput,
    WebhookEndpointDeletePayload,
    WebhookEndpointPayload,
    WebhookEndpointUpdateInput,
    WebhookEvent,
    WebhookEventType,
)


async def webhook_endpoints(
    info: Info,
    first: First = None,
    after: After = None,
    reseller_id: Annotated[
        relay.GlobalID | None, described("Only this reseller's (operator).")
    ] = None,
) -> Connection[WebhookEndpoint]:
    stmt = notifications.endpoints_query(
        info.context.actor, reseller_id=node_pk(reseller_id, "Reseller", "resellerId")
    )
    return await paginate(
        info, stmt, EndpointRow.id, first=first, after=after, to_node=WebhookEndpoint.from_model
    )


async def webhook_events(
    info: Info,
    first: First = None,
    after: After = None,
    type: Annotated[WebhookEventType | None, described("Only events of this type.")] = None,
) -> Connection[WebhookEvent]:
    stmt = notifications.events_query(
        info.context.actor, type=type.value if type is not None else None
    )
    return await paginate(
        info,
        stmt,
        EventRow.id,
        first=first,
        after=after,
        to_node=WebhookEvent.from_model,
        newest_first=True,
    )


async def webhook_deliveries(
    info: Info,
    first: First = None,
    after: After = None,
    status: Annotated[
        WebhookDeliveryStatus | None, described("Only deliveries in this status.")
    ] = None,
    endpoint_id: Annotated[
        relay.GlobalID | None, described("Only deliveries to this endpoint.")
    ] = None,
    event_id: Annotated[relay.GlobalID | None, described("Only deliveries of this event.")] = None,
) -> Connection[WebhookDelivery]:
    stmt = notifications.deliveries_query(
        info.context.actor,
        status=status.value if status is not None else None,
        endpoint_id=node_pk(endpoint_id, "WebhookEndpoint", "endpointId"),
        event_id=node_pk(event_id, "WebhookEvent", "eventId"),
    )
    return await paginate(
        info,
        stmt,
        DeliveryRow.id,
        first=first,
        after=after,
        to_node=WebhookDelivery.from_model,
        newest_first=True,
    )


async def email_outbox(
    info: Info,
    first: First = None,
    after: After = None,
    status: Annotated[EmailStatus | None, described("Only emails in this status.")] = None,
) -> Connection[OutboxEmail]:
    stmt = notifications.outbox_query(
        info.context.actor, status=status.value if status is not None else None
    )
    return await paginate(
        info,
        stmt,
        OutboxRow.id,
        first=first,
        after=after,
        to_node=OutboxEmail.from_model,
        newest_first=True,
    )


async def webhook_endpoint_create(
    info: Info, input: Annotated[WebhookEndpointCreateInput, INPUT]
) -> WebhookEndpointCreatePayload:
    async def action(session, actor: Actor):
        endpoint, secret = await notifications.create_endpoint(
            session,
            actor,
            node_pk(input.reseller_id, "Reseller", "resellerId"),
            {
                "url": input.url,
                "event_types": [t.value for t in input.event_types],
                "description": input.description,
            },
            settings=info.context.settings,
        )
        return {"endpoint": WebhookEndpoint.from_model(endpoint), "secret": secret}

    return await run(info, WebhookEndpointCreatePayload, action)


async def webhook_endpoint_update(
    info: Info, input: Annotated[WebhookEndpointUpdateInput, INPUT]
) -> WebhookEndpointPayload:
    async def action(session, actor: Actor):
        endpoint_id = node_pk(input.id, "WebhookEndpoint")
        assert endpoint_id is not None
        types = input.event_types
        endpoint = await notifications.update_endpoint(
            session,
            actor,
            endpoint_id,
            {
                "url": input.url,
                "event_types": None if types is None else [t.value for t in types],
                "description": input.description,
                "is_active": input.active,
            },
            settings=info.context.settings,
        )
        return {"endpoint": WebhookEndpoint.from_model(endpoint)}

    return await run(info, WebhookEndpointPayload, action)


async def webhook_endpoint_delete(
    info: Info, input: Annotated[WebhookEndpointDeleteInput, INPUT]
) -> WebhookEndpointDeletePayload:
    async def action(session, actor: Actor):
        endpoint_id = node_pk(input.id, "WebhookEndpoint")
        assert endpoint_id is not None
        removed = await notifications.delete_endpoint(session, actor, endpoint_id)
        return {"deleted_id": relay.GlobalID("WebhookEndpoint", str(removed))}

    return await run(info, WebhookEndpointDeletePayload, action)


async def webhook_delivery_retry(
    info: Info, input: Annotated[WebhookDeliveryRetryInput, INPUT]
) -> WebhookDeliveryPayload:
    async def action(session, actor: Actor):
        delivery_id = node_pk(input.id, "WebhookDelivery")
        assert delivery_id is not None
        delivery = await notifications.retry_delivery(session, actor, delivery_id)
        return {"delivery": WebhookDelivery.from_model(delivery)}

    return await run(info, WebhookDeliveryPayload, action)
