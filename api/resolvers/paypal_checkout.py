"""PayPal Checkout: thin resolvers over api.domain.paypal_checkout / paypal_credentials."""

from __future__ import annotations

from typing import Annotated

from strawberry import relay

from api.domain import paypal_checkout, paypal_credentials
from api.domain.actors import Actor
from api.domain.errors import DomainError
from api.models import PaypalEvent as EventRow
from api.models import PaypalOrder as OrderRow
from api.resolvers.context import Info
from api.resolvers.mutations import attempt, node_pk, run
from api.resolvers.pagination import paginate
from api.schema.common import INPUT, After, Connection, First, described
from api.schema.paypal_checkout import (
    PaypalCredentials,
    PaypalCredentialsDeleteInput,
    PaypalCredentialsDeletePayload,
    PaypalCredentialsPayload,
    PaypalCredentialsSetInput,
    PaypalEventStatus,
    PaypalOrder,
    PaypalOrderCaptureInput,
    PaypalOrderCreateInput,
    PaypalOrderPayload,
    PaypalWebhookEvent,
)


async def paypal_credentials_read(
    info: Info,
    reseller_id: Annotated[
        relay.GlobalID | None, described("A reseller's app (operator); omitted: your own.")
    ] = None,
) -> PaypalCredentials | None:
    try:
        async with info.context.read() as session:
            row = await paypal_credentials.read(
                session, info.context.actor, node_pk(reseller_id, "Reseller", "resellerId")
            )
    except DomainError:
        return None
    return None if row is None else PaypalCredentials.from_model(row)


async def paypal_checkout_available(info: Info) -> bool:
    async with info.context.read() as session:
        return await paypal_checkout.checkout_available(
            session, info.context.actor, info.context.settings
        )


async def paypal_orders(
    info: Info,
    first: First = None,
    after: After = None,
    client_id: Annotated[relay.GlobalID | None, described("Only this client's.")] = None,
) -> Connection[PaypalOrder]:
    stmt = paypal_checkout.orders_query(
        info.context.actor, client_id=node_pk(client_id, "Client", "clientId")
    )
    return await paginate(
        info,
        stmt,
        OrderRow.id,
        first=first,
        after=after,
        to_node=PaypalOrder.from_model,
        newest_first=True,
    )


async def paypal_webhook_events(
    info: Info,
    first: First = None,
    after: After = None,
    status: Annotated[PaypalEventStatus | None, described("Only events in this status.")] = None,
) -> Connection[PaypalWebhookEvent]:
    stmt = paypal_checkout.events_query(
        info.context.actor, status=status.value if status is not None else None
    )
    return await paginate(
        info,
        stmt,
        EventRow.id,
        first=first,
        after=after,
        to_node=PaypalWebhookEvent.from_model,
        newest_first=True,
    )


async def paypal_credentials_set(
    info: Info, input: Annotated[PaypalCredentialsSetInput, INPUT]
) -> PaypalCredentialsPayload:
    async def action(session, actor: Actor):
        data = {
            "client_id": input.paypal_client_id,
            "client_secret": input.paypal_client_secret,
            "webhook_id": input.webhook_id,
            "sandbox": input.sandbox,
        }
        row = await paypal_credentials.set_credentials(
            session,
            actor,
            node_pk(input.reseller_id, "Reseller", "resellerId"),
            data,
            settings=info.context.settings,
        )
        return {"credentials": PaypalCredentials.from_model(row)}

    return await run(info, PaypalCredentialsPayload, action)


async def paypal_credentials_delete(
    info: Info, input: Annotated[PaypalCredentialsDeleteInput, INPUT]
) -> PaypalCredentialsDeletePayload:
    async def action(session, actor: Actor):
        reseller_id = node_pk(input.reseller_id, "Reseller", "resellerId")
        await paypal_credentials.delete_credentials(session, actor, reseller_id)
        return {"deleted": True}

    return await run(info, PaypalCredentialsDeletePayload, action)


async def paypal_order_create(
    info: Info, input: Annotated[PaypalOrderCreateInput, INPUT]
) -> PaypalOrderPayload:
    async def work():
        order = await paypal_checkout.create_order(
            info.context.sessions,
            info.context.actor,
            info.context.settings,
            amount=input.amount,
            client_id=node_pk(input.client_id, "Client", "clientId"),
        )
        return {"order": PaypalOrder.from_model(order)}

    return await attempt(PaypalOrderPayload, work())


async def paypal_order_capture(
    info: Info, input: Annotated[PaypalOrderCaptureInput, INPUT]
) -> PaypalOrderPayload:
    async def work():
        order_id = node_pk(input.id, "PaypalOrder")
        assert order_id is not None
        order = await paypal_checkout.capture(
            info.context.sessions, info.context.actor, info.context.settings, order_id
        )
        return {"order": PaypalOrder.from_model(order)}

    return await attempt(PaypalOrderPayload, work())
