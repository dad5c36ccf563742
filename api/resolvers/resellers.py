"""Resellers and their balance with the operator."""

from __future__ import annotations

from typing import Annotated

from api.domain import accounts, auth, payments
from api.domain.actors import Actor
from api.models import Reseller as ResellerRow
from api.resolvers.context import Info
from api.resolvers.mutations import node_pk, run
from api.resolvers.pagination import paginate
from api.schema.common import INPUT, After, Connection, First
from api.schema.inputs import (
    ResellerCreateInput,
    ResellerMoneyInput,
    ResellerUpdateInput,
    domain_fields,
)
from api.schema.payloads import ResellerMoneyPayload, ResellerPayload
from api.schema.types import LedgerEntry, Reseller

OWNER_FIELDS = ("owner_email", "owner_password", "owner_name")


async def resellers(info: Info, first: First = None, after: After = None) -> Connection[Reseller]:
    return await paginate(
        info,
        accounts.resellers_query(info.context.actor),
        ResellerRow.id,
        first=first,
        after=after,
        to_node=Reseller.from_model,
    )


async def reseller_create(
    info: Info, input: Annotated[ResellerCreateInput, INPUT]
) -> ResellerPayload:
    async def action(session, actor: Actor):
        reseller = await accounts.create_reseller(
            session, actor, domain_fields(input, exclude=OWNER_FIELDS)
        )
        if input.owner_email:
            await auth.create_user(
                session,
                actor,
                email=input.owner_email,
                password=input.owner_password or "",
                role="reseller_owner",
                name=input.owner_name or "",
                reseller_id=reseller.id,
            )
        return {"reseller": Reseller.from_model(reseller)}

    return await run(info, ResellerPayload, action)


async def reseller_update(
    info: Info, input: Annotated[ResellerUpdateInput, INPUT]
) -> ResellerPayload:
    async def action(session, actor: Actor):
        reseller = await accounts.update_reseller(
            session, actor, node_pk(input.id, "Reseller"), domain_fields(input, exclude=("id",))
        )
        return {"reseller": Reseller.from_model(reseller)}

    return await run(info, ResellerPayload, action)


def _money_mutation(operation):
    async def resolver(
        info: Info, input: Annotated[ResellerMoneyInput, INPUT]
    ) -> ResellerMoneyPayload:
        async def action(session, actor: Actor):
            moved = await operation(
                session,
                actor,
                node_pk(input.reseller_id, "Reseller", "resellerId"),
                input.amount,
                input.idempotency_key,
                input.memo or "",
            )
            return {
                "entry": LedgerEntry.from_model(moved.entry),
                "reseller": Reseller.from_model(moved.reseller),
                "replayed": moved.replayed,
            }

        return await run(info, ResellerMoneyPayload, action)

    return resolver


reseller_deposit = _money_mutation(payments.reseller_deposit)
reseller_adjust = _money_mutation(payments.reseller_adjust)
