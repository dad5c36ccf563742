"""Rates: decks, base decks, packages, overrides, quotes. Thin: parse, call the domain, map."""

from __future__ import annotations

import io
from typing import Annotated

from strawberry import relay

from api.domain import rates as domain
from api.domain.actors import Actor
from api.models import Package as PackageRow
from api.models import PackageOverride as OverrideRow
from api.models import Rate as RateRow
from api.models import RateDeck as RateDeckRow
from api.resolvers.context import Info
from api.resolvers.mutations import node_pk, run
from api.resolvers.pagination import paginate
from api.schema.common import INPUT, After, Connection, First, described
from api.schema.inputs import domain_fields
from api.schema.types import Client, Reseller

# --- queries ---------------------------------------------------------------------------------


async def rate_decks(info: Info, first: First = None, after: After = None) -> Connection[RateDeck]:
    stmt = domain.decks_query(info.context.actor)
    page = await paginate(
        info, stmt, RateDeckRow.id, first=first, after=after, to_node=RateDeck.from_model
    )
    async with info.context.read() as session:
        counts = await domain.rate_counts(session, [e.node.id for e in page.edges])
    for edge in page.edges:
        edge.node.rate_count = counts.get(edge.node.id, 0)
    return page


async def rates(
    info: Info,
    deck_id: Annotated[relay.GlobalID, described("The deck.")],
    prefix: Annotated[str | None, described("Only prefixes starting with these digits.")] = None,
    first: First = None,
    after: After = None,
) -> Connection[Rate]:
    async with info.context.read() as session:
        deck = await domain.get_deck(
            session, info.context.actor, node_pk(deck_id, "RateDeck", "deckId")
        )
    currency = deck.currency
    return await paginate(
        info,
        domain.rates_query(deck.id, prefix),
        RateRow.id,
        first=first,
        after=after,
        to_node=lambda row: Rate.from_model(row, currency),
    )


async def packages(
    info: Info,
    first: First = None,
    after: After = None,
    reseller_id: Annotated[relay.GlobalID | None, described("Only this reseller's.")] = None,
) -> Connection[Package]:
    stmt = domain.packages_query(info.context.actor, node_pk(reseller_id, "Reseller", "resellerId"))
    return await paginate(
        info, stmt, PackageRow.id, first=first, after=after, to_node=Package.from_model
    )


async def rate_quote(
    info: Info,
    destination: Annotated[str, described("The dialled number, e.g. +44 20 7946 0000.")],
    package_id: Annotated[relay.GlobalID | None, described("Quote by this package.")] = None,
    client_id: Annotated[relay.GlobalID | None, described("Quote for this client.")] = None,
    sub_account_id: Annotated[
        relay.GlobalID | None, described("Quote for this sub-account (its package).")
    ] = None,
    deck_id: Annotated[
        relay.GlobalID | None, described("Quote a deck's cost (operator, or your base deck).")
    ] = None,
) -> RateQuote | None:
    async with info.context.read() as session:
        quote = await domain.quote(
            session,
            info.context.actor,
            destination,
            package_id=node_pk(package_id, "Package", "packageId"),
            client_id=node_pk(client_id, "Client", "clientId"),
            sub_account_id=node_pk(sub_account_id, "SubAccount", "subAccountId"),
            deck_id=node_pk(deck_id, "RateDeck", "deckId"),
        )
    return RateQuote.from_quote(quote) if quote is not None else None


async def overrides_connection(
    info: Info, package: Package, *, first: int | None, after: str | None
) -> Connection[PackageRateOverride]:
    currency = (await info.context.loaders.reseller.load(package.reseller_id)).currency

    def to_node(row: OverrideRow) -> PackageRateOverride:
        return PackageRateOverride(
            kind=OverrideKind(row.kind),
            key=row.key,
            rate=rate_money(row.rate, currency),
            connection_fee=rate_money(row.connection_fee, currency),
        )

    from sqlalchemy import select

    stmt = select(OverrideRow).where(OverrideRow.package_id == package.id)
    return await paginate(info, stmt, OverrideRow.id, first=first, after=after, to_node=to_node)


async def package_margin_warnings(info: Info, package: Package) -> list[MarginWarning]:
    async with info.context.read() as session:
        row = await domain.get_package(session, info.context.actor, package.id)
        warnings = await domain.margin_warnings(session, row)
    currency = (await info.context.loaders.reseller.load(package.reseller_id)).currency
    return [
        MarginWarning(
            kind=OverrideKind(w.kind),
            key=w.key,
            sell_rate=rate_money(w.sell_rate, currency),
            sell_connection_fee=rate_money(w.sell_connection_fee, currency),
            prefix=w.cost_prefix,
            destination=w.destination,
            cost_rate=rate_money(w.cost_rate, currency),
            cost_connection_fee=rate_money(w.cost_connection_fee, currency),
            prefixes_below_cost=w.prefixes_below_cost,
        )
        for w in warnings
    ]


# --- mutations -------------------------------------------------------------------------------


def _row_errors(errors: list[domain.RowError]) -> list[RowError]:
    return [RowError(line=e.line, message=e.message) for e in errors]


async def rate_deck_create(
    info: Info, input: Annotated[RateDeckCreateInput, INPUT]
) -> RateDeckPayload:
    async def action(session, actor: Actor):
        deck = await domain.create_deck(session, actor, input.name, input.currency)
        return {"rate_deck": RateDeck.from_model(deck)}

    return await run(info, RateDeckPayload, action)


async def rate_deck_import(
    info: Info, input: Annotated[RateDeckImportInput, INPUT]
) -> RateDeckImportPayload:
    async def action(session, actor: Actor):
        deck_id = node_pk(input.deck_id, "RateDeck", "deckId")
        result = await domain.import_rates(session, actor, deck_id, io.StringIO(input.csv))
        deck = await domain.get_deck(session, actor, deck_id)
        await session.refresh(deck)
        counts = await domain.rate_counts(session, [deck.id])
        return {
            "rate_deck": RateDeck.from_model(deck, counts.get(deck.id, 0)),
            "imported": result.imported,
            "rejected": result.rejected,
            "row_errors": _row_errors(result.errors),
        }

    return await run(info, RateDeckImportPayload, action)


async def reseller_base_deck_set(
    info: Info, input: Annotated[ResellerBaseDeckSetInput, INPUT]
) -> ResellerBaseDeckPayload:
    async def action(session, actor: Actor):
        reseller = await domain.set_base_deck(
            session,
            actor,
            node_pk(input.reseller_id, "Reseller", "resellerId"),
            node_pk(input.deck_id, "RateDeck", "deckId"),
        )
        deck = None
        if reseller.base_deck_id is not None:
            row = await domain.get_deck(session, actor, reseller.base_deck_id)
            counts = await domain.rate_counts(session, [row.id])
            deck = RateDeck.from_model(row, counts.get(row.id, 0))
        return {"reseller": Reseller.from_model(reseller), "rate_deck": deck}

    return await run(info, ResellerBaseDeckPayload, action)


async def package_create(info: Info, input: Annotated[PackageCreateInput, INPUT]) -> PackagePayload:
    async def action(session, actor: Actor):
        package = await domain.create_package(
            session,
            actor,
            node_pk(input.reseller_id, "Reseller", "resellerId"),
            domain_fields(input, exclude=("reseller_id",)),
        )
        return {"package": Package.from_model(package)}

    return await run(info, PackagePayload, action)


async def package_update(info: Info, input: Annotated[PackageUpdateInput, INPUT]) -> PackagePayload:
    async def action(session, actor: Actor):
        package = await domain.update_package(
            session, actor, node_pk(input.id, "Package"), domain_fields(input, exclude=("id",))
        )
        return {"package": Package.from_model(package)}

    return await run(info, PackagePayload, action)


async def package_rate_overrides_set(
    info: Info, input: Annotated[PackageRateOverridesSetInput, INPUT]
) -> PackageRateOverridesPayload:
    async def action(session, actor: Actor):
        rows = [
            {
                "kind": o.kind.value,
                "key": o.key,
                "rate": o.rate,
                "connection_fee": o.connection_fee,
            }
            for o in input.overrides
        ]
        package, result = await domain.set_overrides(
            session, actor, node_pk(input.package_id, "Package", "packageId"), rows
        )
        return {
            "package": Package.from_model(package),
            "set": result.set,
            "removed": result.removed,
        }

    return await run(info, PackageRateOverridesPayload, action)


async def package_rate_overrides_import(
    info: Info, input: Annotated[PackageRateOverridesImportInput, INPUT]
) -> PackageRateOverridesPayload:
    async def action(session, actor: Actor):
        package, result = await domain.import_overrides(
            session,
            actor,
            node_pk(input.package_id, "Package", "packageId"),
            io.StringIO(input.csv),
        )
        return {
            "package": Package.from_model(package),
            "set": result.set,
            "removed": result.removed,
            "row_errors": _row_errors(result.errors),
        }

    return await run(info, PackageRateOverridesPayload, action)


async def client_package_set(
    info: Info, input: Annotated[ClientPackageSetInput, INPUT]
) -> ClientRatesPayload:
    async def action(session, actor: Actor):
        client, package = await domain.set_client_package(
            session,
            actor,
            node_pk(input.client_id, "Client", "clientId"),
            node_pk(input.package_id, "Package", "packageId"),
        )
        return {
            "client": Client.from_model(client),
            "package": Package.from_model(package) if package is not None else None,
            "personal_rate_pct": client.personal_rate_pct,
        }

    return await run(info, ClientRatesPayload, action)


async def client_rate_percent_set(
    info: Info, input: Annotated[ClientRatePercentSetInput, INPUT]
) -> ClientRatesPayload:
    async def action(session, actor: Actor):
        client = await domain.set_client_rate_percent(
            session, actor, node_pk(input.client_id, "Client", "clientId"), input.percent
        )
        return {"client": Client.from_model(client), "personal_rate_pct": client.personal_rate_pct}

    return await run(info, ClientRatesPayload, action)


# Imported last: api.schema.rates imports this module for its root fields, and either may be
# imported first (the names above only need these types when a resolver runs).
from api.schema.rates import (  # noqa: E402
    ClientPackageSetInput,
    ClientRatePercentSetInput,
    ClientRatesPayload,
    MarginWarning,
    OverrideKind,
    Package,
    PackageCreateInput,
    PackagePayload,
    PackageRateOverride,
    PackageRateOverridesImportInput,
    PackageRateOverridesPayload,
    PackageRateOverridesSetInput,
    PackageUpdateInput,
    Rate,
    RateDeck,
    RateDeckCreateInput,
    RateDeckImportInput,
    RateDeckImportPayload,
    RateDeckPayload,
    RateQuote,
    ResellerBaseDeckPayload,
    ResellerBaseDeckSetInput,
    RowError,
    rate_money,
)
