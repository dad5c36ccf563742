"""PayPal IPN reads: thin resolvers over api.domain.paypal_ipn."""

from __future__ import annotations

from typing import Annotated

from strawberry import relay

from api.domain import paypal_ipn
from api.models import PaypalIpnMessage as MessageRow
from api.resolvers.context import Info
from api.resolvers.mutations import node_pk
from api.resolvers.pagination import paginate
from api.schema.common import After, Connection, First, described
from api.schema.paypal_ipn import PaypalIpnMessage, PaypalIpnStatus, PaypalTopUpForm


async def paypal_ipn_messages(
    info: Info,
    first: First = None,
    after: After = None,
    status: Annotated[PaypalIpnStatus | None, described("Only messages in this status.")] = None,
    client_id: Annotated[relay.GlobalID | None, described("Only this client's.")] = None,
) -> Connection[PaypalIpnMessage]:
    stmt = paypal_ipn.messages_query(
        info.context.actor,
        status=status.value if status is not None else None,
        client_id=node_pk(client_id, "Client", "clientId"),
    )
    return await paginate(
        info,
        stmt,
        MessageRow.id,
        first=first,
        after=after,
        to_node=PaypalIpnMessage.from_model,
        newest_first=True,
    )


async def paypal_top_up_form(info: Info) -> PaypalTopUpForm | None:
    async with info.context.read() as session:
        form = await paypal_ipn.top_up_form(session, info.context.settings, info.context.actor)
    return None if form is None else PaypalTopUpForm.from_domain(form)
