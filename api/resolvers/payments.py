"""Money movements on clients, and the ledger history."""

from __future__ import annotations

from typing import Annotated

from strawberry import relay

from api.domain import payments
from api.domain.actors import Actor
from api.models import LedgerEntry as EntryRow
from api.resolvers.context import Info
from api.resolvers.mutations import node_pk, run
from api.resolvers.pagination import paginate
from api.schema.common import INPUT, After, Connection, First, described
from api.schema.inputs import ClientMoneyInput, ClientRefundInput
from api.schema.payloads import ClientMoneyPayload
from api.schema.types import Client, LedgerEntry


async def entries_connection(
    info: Info,
    *,
    first: int | None,
    after: str | None,
    client_id: int | None = None,
    reseller_id: int | None = None,
) -> Connection[LedgerEntry]:
    stmt = payments.entries_query(info.context.actor, client_id=client_id, reseller_id=reseller_id)
    return await paginate(
        info,
        stmt,
        EntryRow.id,
        first=first,
        after=after,
        to_node=LedgerEntry.from_model,
        newest_first=True,
    )


async def ledger_entries(
    info: Info,
    first: First = None,
    after: After = None,
    client_id: Annotated[relay.GlobalID | None, described("Only this client's.")] = None,
    reseller_id: Annotated[relay.GlobalID | None, described("Only this reseller's.")] = None,
) -> Connection[LedgerEntry]:
    return await entries_connection(
        info,
        first=first,
        after=after,
        client_id=node_pk(client_id, "Client", "clientId"),
        reseller_id=node_pk(reseller_id, "Reseller", "resellerId"),
    )


def _client_money(operation, input_type: type = ClientMoneyInput):
    async def resolver(info: Info, input: Annotated[ClientMoneyInput, INPUT]) -> ClientMoneyPayload:
        async def action(session, actor: Actor):
            kwargs = {}
            if isinstance(input, ClientRefundInput):
                kwargs["payment_id"] = node_pk(input.payment_id, "LedgerEntry", "paymentId")
            moved = await operation(
                session,
                actor,
                node_pk(input.client_id, "Client", "clientId"),
                input.amount,
                input.idempotency_key,
                input.memo or "",
                **kwargs,
            )
            return {
                "entry": LedgerEntry.from_model(moved.entry),
                "client": Client.from_model(moved.client, moved.reseller.currency),
                "replayed": moved.replayed,
            }

        return await run(info, ClientMoneyPayload, action)

    resolver.__annotations__["input"] = Annotated[input_type, INPUT]
    return resolver


client_transfer = _client_money(payments.client_transfer)
client_payment_record = _client_money(payments.client_payment)
client_charge = _client_money(payments.client_charge)

client_refund = _client_money(payments.client_refund, ClientRefundInput)
