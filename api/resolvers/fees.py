"""Fees: the fee charges, and the setup fees charged on request. Thin: parse, call the
domain, map."""

from __future__ import annotations

from typing import Annotated

from strawberry import relay

from api.domain import fees as domain
from api.domain.actors import Actor
from api.models import FeeCharge as FeeChargeRow
from api.resolvers.context import Info
from api.resolvers.mutations import node_pk, run
from api.resolvers.pagination import paginate
from api.schema.common import INPUT, After, Connection, First, described


async def fee_charges(
    info: Info,
    first: First = None,
    after: After = None,
    client_id: Annotated[relay.GlobalID | None, described("Only this client's.")] = None,
    reseller_id: Annotated[relay.GlobalID | None, described("Only this reseller's.")] = None,
    kind: Annotated[FeeKind | None, described("Only monthly or only setup fees.")] = None,
    subject_type: Annotated[
        FeeSubjectType | None, described("Only sub-accounts' or only numbers' fees.")
    ] = None,
) -> Connection[FeeCharge]:
    stmt = domain.fee_charges_query(
        info.context.actor,
        client_id=node_pk(client_id, "Client", "clientId"),
        reseller_id=node_pk(reseller_id, "Reseller", "resellerId"),
        kind=kind.value if kind else None,
        subject_type=subject_type.value if subject_type else None,
    )
    return await paginate(
        info,
        stmt,
        FeeChargeRow.id,
        first=first,
        after=after,
        to_node=FeeCharge.from_model,
        newest_first=True,
    )


async def sub_account_activation_fee_charge(
    info: Info, input: Annotated[SubAccountActivationFeeChargeInput, INPUT]
) -> FeeChargePayload:
    async def action(session, actor: Actor):
        done = await domain.charge_sub_account_setup(
            session, actor, node_pk(input.id, "SubAccount"), input.idempotency_key
        )
        return {"fee_charge": FeeCharge.from_model(done.charge), "replayed": done.replayed}

    return await run(info, FeeChargePayload, action)


async def did_setup_fee_charge(
    info: Info, input: Annotated[DidSetupFeeChargeInput, INPUT]
) -> FeeChargePayload:
    async def action(session, actor: Actor):
        done = await domain.charge_did_setup(
            session, actor, node_pk(input.id, "Did"), input.idempotency_key
        )
        return {"fee_charge": FeeCharge.from_model(done.charge), "replayed": done.replayed}

    return await run(info, FeeChargePayload, action)


# Imported last: api.schema.fees imports this module for its root fields.
from api.schema.fees import (  # noqa: E402
    DidSetupFeeChargeInput,
    FeeCharge,
    FeeChargePayload,
    FeeKind,
    FeeSubjectType,
    SubAccountActivationFeeChargeInput,
)
