"""Clients: lists, creation (one or many), changes, deletion."""

from __future__ import annotations

from typing import Annotated

from strawberry import relay

from api.domain import accounts
from api.domain.actors import Actor
from api.models import Client as ClientRow
from api.resolvers.context import Info
from api.resolvers.mutations import node_pk, run
from api.resolvers.pagination import paginate
from api.schema.common import INPUT, After, Connection, First, described
from api.schema.inputs import (
    ClientBulkCreateInput,
    ClientCreateInput,
    ClientProfileUpdateInput,
    ClientUpdateInput,
    IdInput,
    domain_fields,
)
from api.schema.payloads import ClientBulkCreatePayload, ClientDeletePayload, ClientPayload
from api.schema.types import BillingMode, Characteristic, Client, ClientStatus


async def clients_connection(
    info: Info,
    *,
    first: int | None,
    after: str | None,
    reseller_id: int | None = None,
    status: str | None = None,
    billing_mode: str | None = None,
    label: str | None = None,
    characteristic: str | None = None,
    search: str | None = None,
) -> Connection[Client]:
    stmt = accounts.clients_query(
        info.context.actor,
        reseller_id=reseller_id,
        status=status,
        billing_mode=billing_mode,
        label=label,
        characteristic=characteristic,
        search=search,
    )
    return await paginate(
        info, stmt, ClientRow.id, first=first, after=after, to_node=Client.from_model
    )


async def clients(
    info: Info,
    first: First = None,
    after: After = None,
    reseller_id: Annotated[relay.GlobalID | None, described("Only this reseller's.")] = None,
    status: Annotated[ClientStatus | None, described("Only clients with this status.")] = None,
    billing_mode: Annotated[BillingMode | None, described("Only this billing mode.")] = None,
    label: Annotated[str | None, described("Only clients with this label (case aside).")] = None,
    characteristic: Annotated[Characteristic | None, described("Only clients rated so.")] = None,
    search: Annotated[
        str | None,
        described("Text in name, company, email or label, or digits of a number it calls from."),
    ] = None,
) -> Connection[Client]:
    return await clients_connection(
        info,
        first=first,
        after=after,
        reseller_id=node_pk(reseller_id, "Reseller", "resellerId"),
        status=status.value if status else None,
        billing_mode=billing_mode.value if billing_mode else None,
        label=label,
        characteristic=characteristic.value if characteristic else None,
        search=search,
    )


async def client_create(info: Info, input: Annotated[ClientCreateInput, INPUT]) -> ClientPayload:
    async def action(session, actor: Actor):
        [client] = await accounts.create_clients(
            session,
            actor,
            node_pk(input.reseller_id, "Reseller", "resellerId"),
            [domain_fields(input, exclude=("reseller_id",))],
        )
        return {"client": Client.from_model(client)}

    return await run(info, ClientPayload, action)


async def client_bulk_create(
    info: Info, input: Annotated[ClientBulkCreateInput, INPUT]
) -> ClientBulkCreatePayload:
    async def action(session, actor: Actor):
        created = await accounts.create_clients(
            session,
            actor,
            node_pk(input.reseller_id, "Reseller", "resellerId"),
            [domain_fields(row) for row in input.clients],
        )
        return {"clients": [Client.from_model(c) for c in created]}

    return await run(info, ClientBulkCreatePayload, action)


async def client_update(info: Info, input: Annotated[ClientUpdateInput, INPUT]) -> ClientPayload:
    async def action(session, actor: Actor):
        client = await accounts.update_client(
            session, actor, node_pk(input.id, "Client"), domain_fields(input, exclude=("id",))
        )
        return {"client": Client.from_model(client)}

    return await run(info, ClientPayload, action)


async def client_profile_update(
    info: Info, input: Annotated[ClientProfileUpdateInput, INPUT]
) -> ClientPayload:
    async def action(session, actor: Actor):
        client = await accounts.update_client_profile(session, actor, domain_fields(input))
        return {"client": Client.from_model(client)}

    return await run(info, ClientPayload, action)


async def client_delete(info: Info, input: Annotated[IdInput, INPUT]) -> ClientDeletePayload:
    async def action(session, actor: Actor):
        client = await accounts.delete_client(session, actor, node_pk(input.id, "Client"))
        return {"deleted_client_id": relay.GlobalID("Client", str(client.id))}

    return await run(info, ClientDeletePayload, action)
