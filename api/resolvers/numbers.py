"""Numbers (DIDs) and their reports. Thin: parse, call the domain, map."""

from __future__ import annotations

import io
from typing import Annotated

from strawberry import relay

from api.domain import numbers as domain
from api.domain.actors import Actor
from api.models import Did as DidRow
from api.models import LedgerEntry as EntryRow
from api.models import SubAccount as SubAccountRow
from api.resolvers.context import Info
from api.resolvers.mutations import node_pk, run
from api.resolvers.pagination import paginate
from api.schema.common import INPUT, After, Connection, First, described
from api.schema.types import LedgerEntry

Country = Annotated[str | None, described("Only this country (ISO code).")]
City = Annotated[str | None, described("Only cities or rate centres containing this text.")]
Prefix = Annotated[str | None, described("Only numbers starting with these digits.")]


# --- queries ---------------------------------------------------------------------------------


async def dids(
    info: Info,
    first: First = None,
    after: After = None,
    status: Annotated[DidStatus | None, described("Only numbers in this status.")] = None,
    country: Country = None,
    city: City = None,
    prefix: Prefix = None,
    reseller_id: Annotated[relay.GlobalID | None, described("Only this reseller's.")] = None,
    client_id: Annotated[relay.GlobalID | None, described("Only this client's.")] = None,
    sub_account_id: Annotated[relay.GlobalID | None, described("Only this sub-account's.")] = None,
) -> Connection[Did]:
    stmt = domain.dids_query(
        info.context.actor,
        status=status.value if status else None,
        country=country,
        city=city,
        prefix=prefix,
        reseller_id=node_pk(reseller_id, "Reseller", "resellerId"),
        client_id=node_pk(client_id, "Client", "clientId"),
        sub_account_id=node_pk(sub_account_id, "SubAccount", "subAccountId"),
    )
    return await paginate(info, stmt, DidRow.id, first=first, after=after, to_node=Did.from_model)


async def dids_available(
    info: Info,
    first: First = None,
    after: After = None,
    country: Country = None,
    city: City = None,
    prefix: Prefix = None,
) -> Connection[Did]:
    stmt = domain.available_query(info.context.actor, country=country, city=city, prefix=prefix)
    return await paginate(info, stmt, DidRow.id, first=first, after=after, to_node=Did.from_model)


async def did_report(
    info: Info,
    first: First = None,
    after: After = None,
    status: Annotated[DidStatus | None, described("Only OWNED or only ASSIGNED.")] = None,
    reseller_id: Annotated[relay.GlobalID | None, described("Only this reseller's.")] = None,
    client_id: Annotated[relay.GlobalID | None, described("Only this client's.")] = None,
) -> DidReportConnection:
    stmt = domain.did_report_query(
        info.context.actor,
        status=status.value if status else None,
        reseller_id=node_pk(reseller_id, "Reseller", "resellerId"),
        client_id=node_pk(client_id, "Client", "clientId"),
    )
    page = await paginate(info, stmt, DidRow.id, first=first, after=after, to_node=Did.from_model)
    return DidReportConnection(edges=page.edges, page_info=page.page_info, report_query=stmt)


def _report_row(sub: SubAccountRow) -> SubAccountReportRow:
    return SubAccountReportRow(
        sub_account_pk=sub.id, client_pk=sub.client_id, package_pk=sub.package_id
    )


async def sub_account_report(
    info: Info,
    first: First = None,
    after: After = None,
    reseller_id: Annotated[relay.GlobalID | None, described("Only this reseller's.")] = None,
    client_id: Annotated[relay.GlobalID | None, described("Only this client's.")] = None,
) -> Connection[SubAccountReportRow]:
    stmt = domain.sub_account_report_query(
        info.context.actor,
        reseller_id=node_pk(reseller_id, "Reseller", "resellerId"),
        client_id=node_pk(client_id, "Client", "clientId"),
    )
    return await paginate(
        info, stmt, SubAccountRow.id, first=first, after=after, to_node=_report_row
    )


# --- mutations -------------------------------------------------------------------------------


async def dids_import(info: Info, input: Annotated[DidsImportInput, INPUT]) -> DidsImportPayload:
    async def action(session, actor: Actor):
        result = await domain.import_numbers(
            session, actor, io.StringIO(input.csv), currency=input.currency
        )
        return {
            "imported": result.imported,
            "rejected": result.rejected,
            "row_errors": [RowError(line=e.line, message=e.message) for e in result.errors],
        }

    return await run(info, DidsImportPayload, action)


async def did_order(info: Info, input: Annotated[DidOrderInput, INPUT]) -> DidOrderPayload:
    async def action(session, actor: Actor):
        done = await domain.order(
            session,
            actor,
            node_pk(input.id, "Did"),
            input.idempotency_key,
            reseller_id=node_pk(input.reseller_id, "Reseller", "resellerId"),
        )
        entry = None
        if done.entry_id is not None:
            entry = LedgerEntry.from_model(await session.get(EntryRow, done.entry_id))
        return {"did": Did.from_model(done.did), "entry": entry, "replayed": done.replayed}

    return await run(info, DidOrderPayload, action)


async def did_assign(info: Info, input: Annotated[DidAssignInput, INPUT]) -> DidPayload:
    async def action(session, actor: Actor):
        row = await domain.assign(
            session,
            actor,
            node_pk(input.id, "Did"),
            node_pk(input.client_id, "Client", "clientId"),
            sub_account_id=node_pk(input.sub_account_id, "SubAccount", "subAccountId"),
            forward_to=input.forward_to,
            monthly_price=input.monthly_price,
            setup_price=input.setup_price,
        )
        return {"did": Did.from_model(row)}

    return await run(info, DidPayload, action)


async def did_forwarding_set(
    info: Info, input: Annotated[DidForwardingSetInput, INPUT]
) -> DidPayload:
    async def action(session, actor: Actor):
        row = await domain.set_forwarding(
            session,
            actor,
            node_pk(input.id, "Did"),
            sub_account_id=node_pk(input.sub_account_id, "SubAccount", "subAccountId"),
            forward_to=input.forward_to,
        )
        return {"did": Did.from_model(row)}

    return await run(info, DidPayload, action)


async def did_unassign(info: Info, input: Annotated[DidInput, INPUT]) -> DidPayload:
    async def action(session, actor: Actor):
        return {
            "did": Did.from_model(await domain.unassign(session, actor, node_pk(input.id, "Did")))
        }

    return await run(info, DidPayload, action)


async def did_release(info: Info, input: Annotated[DidInput, INPUT]) -> DidPayload:
    async def action(session, actor: Actor):
        return {
            "did": Did.from_model(await domain.release(session, actor, node_pk(input.id, "Did")))
        }

    return await run(info, DidPayload, action)


# Imported last: api.schema.numbers imports this module for its root fields.
from api.schema.numbers import (  # noqa: E402
    Did,
    DidAssignInput,
    DidForwardingSetInput,
    DidInput,
    DidOrderInput,
    DidOrderPayload,
    DidPayload,
    DidReportConnection,
    DidsImportInput,
    DidsImportPayload,
    DidStatus,
    SubAccountReportRow,
)
from api.schema.rates import RowError  # noqa: E402
