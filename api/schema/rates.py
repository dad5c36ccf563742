"""GraphQL of rates: operator rate decks, reseller packages with overrides, and rate quotes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from enum import Enum

import strawberry
from strawberry import relay

from api import models
from api.domain import rates as rates_domain
from api.money import MICROS
from api.resolvers.context import Info
from api.schema.common import After, Connection, First, Money, UserError
from api.schema.types import Client, Reseller, _resolve_scoped

ERRORS = "Expected failures; when not empty, nothing was changed."

OverrideKind = strawberry.enum(
    Enum("OverrideKind", {k.upper(): k for k in rates_domain.OVERRIDE_KINDS}),
    description="What an override's key is: a dial prefix, a country, or all of US/Canada.",
)
RateRule = strawberry.enum(
    Enum(
        "RateRule",
        {r.upper(): r for r in ("prefix", "country", "nanpa", "markup", "base", "personal")},
    ),
    description=(
        "Which rule set a sell price: a prefix, country or NANPA override, the package's "
        "markup, the base (cost) rate, or the base rate plus a client's personal percent."
    ),
)


def rate_money(value: Decimal | int, currency: str) -> Money:
    """A rate in micros (exact, possibly fractional) as Money: six places, more if needed."""
    if value == int(value):
        return Money.of(int(value), currency)
    return Money(amount=Decimal(value) / MICROS, currency=currency)


@strawberry.type(description="An operator's rate deck: the platform cost of calls.")
class RateDeck(relay.Node):
    id: relay.NodeID[int]
    name: str = strawberry.field(description="The deck's name (unique).")
    currency: str = strawberry.field(description="The currency of its rates.")
    version: int = strawberry.field(description="Goes up on every change to the deck.")
    created_at: datetime = strawberry.field(description="When it was created (UTC).")
    rate_count: int = strawberry.field(
        description="How many rate rows it holds (history included)."
    )

    @classmethod
    def from_model(cls, row: models.RateDeck, rate_count: int = 0) -> RateDeck:
        return cls(
            id=row.id,
            name=row.name,
            currency=row.currency,
            version=row.version,
            created_at=row.created_at,
            rate_count=rate_count,
        )

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False):
        async def fetch(session, actor, pk):
            deck = await rates_domain.get_deck(session, actor, pk, "id")
            counts = await rates_domain.rate_counts(session, [deck.id])
            return _DeckWithCount(deck, counts.get(deck.id, 0))

        return await _resolve_scoped(_DeckNode, info, node_ids, fetch)


class _DeckWithCount:
    def __init__(self, deck: models.RateDeck, count: int):
        self.deck, self.count = deck, count


class _DeckNode:
    @staticmethod
    def from_model(pair: _DeckWithCount) -> RateDeck:
        return RateDeck.from_model(pair.deck, pair.count)


@strawberry.type(description="One prefix's rate in a deck, from its effective date on.")
class Rate:
    prefix: str = strawberry.field(description="The dial prefix (digits).")
    destination: str = strawberry.field(description="Destination name, e.g. UK Mobile.")
    country: str = strawberry.field(description="ISO country code, or empty.")
    rate: Money = strawberry.field(description="Cost per minute.")
    connection_fee: Money = strawberry.field(description="Cost per connected call.")
    first_increment: int = strawberry.field(description="First billing increment, seconds.")
    increment: int = strawberry.field(description="Following billing increments, seconds.")
    effective_from: datetime = strawberry.field(
        description="From when this rate applies (UTC); a later row takes over from its date."
    )

    @classmethod
    def from_model(cls, row: models.Rate, currency: str) -> Rate:
        return cls(
            prefix=row.prefix,
            destination=row.destination,
            country=row.country,
            rate=Money.of(row.rate, currency),
            connection_fee=Money.of(row.connection_fee, currency),
            first_increment=row.first_increment,
            increment=row.increment,
            effective_from=row.effective_from,
        )


@strawberry.type(description="A sell rate a package sets outright for some destinations.")
class PackageRateOverride:
    kind: OverrideKind = strawberry.field(description="Prefix, country or NANPA.")
    key: str = strawberry.field(description="The digits, the ISO country code, or NANPA.")
    rate: Money = strawberry.field(description="Sell price per minute.")
    connection_fee: Money = strawberry.field(description="Sell price per connected call.")


@strawberry.type(description="An override selling below the cost of a prefix it prices.")
class MarginWarning:
    kind: OverrideKind = strawberry.field(description="The override's kind.")
    key: str = strawberry.field(description="The override's key.")
    sell_rate: Money = strawberry.field(description="The override's sell rate per minute.")
    sell_connection_fee: Money = strawberry.field(description="Its sell fee per call.")
    prefix: str = strawberry.field(description="The deck prefix costing the most below it.")
    destination: str = strawberry.field(description="That prefix's destination name.")
    cost_rate: Money = strawberry.field(description="That prefix's cost per minute.")
    cost_connection_fee: Money = strawberry.field(description="That prefix's cost per call.")
    prefixes_below_cost: int = strawberry.field(
        description="How many deck prefixes this override sells below cost."
    )


@strawberry.type(description="A reseller's price list for its clients.")
class Package(relay.Node):
    id: relay.NodeID[int]
    name: str = strawberry.field(description="The package's name (unique per reseller).")
    markup_pct: Decimal = strawberry.field(description="Percent added over cost + fixed markup.")
    first_increment: int = strawberry.field(description="Clients' first billing increment, s.")
    increment: int = strawberry.field(description="Clients' following billing increments, s.")
    free_minutes: int = strawberry.field(description="Free minutes included each month.")
    refuse_below_cost: bool = strawberry.field(
        description="Whether calls that would sell below cost are refused."
    )
    version: int = strawberry.field(description="Goes up on every change, overrides included.")
    created_at: datetime = strawberry.field(description="When it was created (UTC).")
    reseller_id: strawberry.Private[int]
    markup_fixed_micros: strawberry.Private[int]
    monthly_fee_micros: strawberry.Private[int]
    setup_fee_micros: strawberry.Private[int]

    @classmethod
    def from_model(cls, row: models.Package) -> Package:
        return cls(
            id=row.id,
            name=row.name,
            markup_pct=row.markup_pct,
            first_increment=row.first_increment,
            increment=row.increment,
            free_minutes=row.free_minutes,
            refuse_below_cost=row.refuse_below_cost,
            version=row.version,
            created_at=row.created_at,
            reseller_id=row.reseller_id,
            markup_fixed_micros=row.markup_fixed,
            monthly_fee_micros=row.monthly_fee,
            setup_fee_micros=row.setup_fee,
        )

    async def _currency(self, info: Info) -> str:
        return (await info.context.loaders.reseller.load(self.reseller_id)).currency

    @strawberry.field(description="Fixed amount added to the cost per minute.")
    async def markup_fixed(self, info: Info) -> Money:
        return Money.of(self.markup_fixed_micros, await self._currency(info))

    @strawberry.field(description="Monthly fee charged to clients on this package.")
    async def monthly_fee(self, info: Info) -> Money:
        return Money.of(self.monthly_fee_micros, await self._currency(info))

    @strawberry.field(description="Setup (activation) fee charged once.")
    async def setup_fee(self, info: Info) -> Money:
        return Money.of(self.setup_fee_micros, await self._currency(info))

    @strawberry.field(description="The reseller owning the package.")
    async def reseller(self, info: Info) -> Reseller:
        return Reseller.from_model(await info.context.loaders.reseller.load(self.reseller_id))

    @strawberry.field(description="Its rate overrides, by kind and key.")
    async def rate_overrides(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[PackageRateOverride]:
        from api.resolvers.rates import overrides_connection

        return await overrides_connection(info, self, first=first, after=after)

    @strawberry.field(
        description="Overrides selling below the cost of a prefix in the reseller's base deck."
    )
    async def margin_warnings(self, info: Info) -> list[MarginWarning]:
        from api.resolvers.rates import package_margin_warnings

        return await package_margin_warnings(info, self)

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False):
        return await _resolve_scoped(cls, info, node_ids, rates_domain.get_package)


@strawberry.type(description="The rates a call to a destination would get.")
class RateQuote:
    number: str = strawberry.field(description="The destination as dialled digits.")
    prefix: str = strawberry.field(description="The matched deck prefix.")
    destination: str = strawberry.field(description="The matched destination name.")
    country: str = strawberry.field(description="The matched country code, or empty.")
    cost_rate: Money | None = strawberry.field(
        description="Cost per minute (null for client viewers)."
    )
    cost_connection_fee: Money | None = strawberry.field(
        description="Cost per connected call (null for client viewers)."
    )
    cost_first_increment: int | None = strawberry.field(
        description="The deck's first increment, s (null for client viewers)."
    )
    cost_increment: int | None = strawberry.field(
        description="The deck's following increments, s (null for client viewers)."
    )
    sell_rate: Money = strawberry.field(
        description="Sell price per minute, exact (rounded only on a call's charge)."
    )
    sell_connection_fee: Money = strawberry.field(description="Sell price per connected call.")
    first_increment: int = strawberry.field(description="The client's first increment, s.")
    increment: int = strawberry.field(description="The client's following increments, s.")
    rule: RateRule = strawberry.field(description="Which rule set the sell price.")
    below_cost: bool = strawberry.field(
        description="Whether it sells below cost (always false for client viewers)."
    )
    refused_below_cost: bool = strawberry.field(
        description="Whether the package refuses this call because it sells below cost."
    )

    @classmethod
    def from_quote(cls, q: rates_domain.Quote) -> RateQuote:
        cost, sell = q.cost, q.sell
        show = q.show_cost
        return cls(
            number=q.destination,
            prefix=cost.prefix,
            destination=cost.destination,
            country=cost.country,
            cost_rate=Money.of(cost.rate, q.cost_currency) if show else None,
            cost_connection_fee=Money.of(cost.connection_fee, q.cost_currency) if show else None,
            cost_first_increment=cost.first_increment if show else None,
            cost_increment=cost.increment if show else None,
            sell_rate=rate_money(sell.rate, q.sell_currency),
            sell_connection_fee=rate_money(sell.connection_fee, q.sell_currency),
            first_increment=sell.first_increment,
            increment=sell.increment,
            rule=RateRule(sell.rule),
            below_cost=q.below_cost and show,
            refused_below_cost=q.refuse_below_cost,
        )


@strawberry.type(description="One rejected row of a CSV import.")
class RowError:
    line: int = strawberry.field(description="The line number in the file (header is 1).")
    message: str = strawberry.field(description="Why the row was rejected.")


# --- inputs ----------------------------------------------------------------------------------


@strawberry.input(description="A new, empty rate deck.")
class RateDeckCreateInput:
    name: str = strawberry.field(description="Its name (unique).")
    currency: str = strawberry.field(description="ISO 4217 code of its rates, e.g. USD.")


@strawberry.input(description="Rates to import into a deck, as CSV text.")
class RateDeckImportInput:
    deck_id: relay.GlobalID = strawberry.field(description="The deck.")
    csv: str = strawberry.field(
        description=(
            "CSV with a header: prefix,destination,country,rate,connection_fee,"
            "first_increment,increment,effective_from (rate and fee in units; increments in "
            "seconds, blank 60; effective_from an ISO date or date-time, UTC, blank = now)."
        )
    )


@strawberry.input(description="A reseller's base deck: the cost of its calls.")
class ResellerBaseDeckSetInput:
    reseller_id: relay.GlobalID = strawberry.field(description="The reseller.")
    deck_id: relay.GlobalID | None = strawberry.field(
        default=None, description="The deck (same currency), or null to remove it."
    )


@strawberry.input(description="A new package.")
class PackageCreateInput:
    name: str = strawberry.field(description="Its name (unique per reseller).")
    reseller_id: relay.GlobalID | None = strawberry.field(
        default=None, description="The reseller (the operator must name it)."
    )
    markup_fixed: Decimal | None = strawberry.field(
        default=None, description="Added to cost per minute (default 0)."
    )
    markup_pct: Decimal | None = strawberry.field(
        default=None, description="Percent over cost + fixed (default 0)."
    )
    first_increment: int | None = strawberry.field(
        default=None, description="First billing increment in seconds (default 60)."
    )
    increment: int | None = strawberry.field(
        default=None, description="Following increments in seconds (default 60)."
    )
    monthly_fee: Decimal | None = strawberry.field(default=None, description="Monthly fee.")
    setup_fee: Decimal | None = strawberry.field(default=None, description="Setup fee.")
    free_minutes: int | None = strawberry.field(default=None, description="Free minutes/month.")
    refuse_below_cost: bool | None = strawberry.field(
        default=None, description="Refuse calls that would sell below cost."
    )


@strawberry.input(description="Changes to a package; omitted fields stay as they are.")
class PackageUpdateInput:
    id: relay.GlobalID = strawberry.field(description="The package.")
    name: str | None = strawberry.field(default=None, description="New name.")
    markup_fixed: Decimal | None = strawberry.field(default=None, description="New fixed markup.")
    markup_pct: Decimal | None = strawberry.field(default=None, description="New percent.")
    first_increment: int | None = strawberry.field(default=None, description="New first incr.")
    increment: int | None = strawberry.field(default=None, description="New increment.")
    monthly_fee: Decimal | None = strawberry.field(default=None, description="New monthly fee.")
    setup_fee: Decimal | None = strawberry.field(default=None, description="New setup fee.")
    free_minutes: int | None = strawberry.field(default=None, description="New free minutes.")
    refuse_below_cost: bool | None = strawberry.field(
        default=None, description="Refuse calls sold below cost."
    )


@strawberry.input(description="One override to set, or to remove with a null rate.")
class PackageRateOverrideInput:
    kind: OverrideKind = strawberry.field(description="Prefix, country or NANPA.")
    key: str = strawberry.field(
        default="", description="Digits, ISO country code, or NANPA (may be empty for NANPA)."
    )
    rate: Decimal | None = strawberry.field(
        default=None, description="Sell price per minute; null removes the override."
    )
    connection_fee: Decimal | None = strawberry.field(
        default=None, description="Sell price per connected call (default 0)."
    )


@strawberry.input(description="Many overrides of one package at once: all land, or none.")
class PackageRateOverridesSetInput:
    package_id: relay.GlobalID = strawberry.field(description="The package.")
    overrides: list[PackageRateOverrideInput] = strawberry.field(
        description="The overrides (at most 10,000)."
    )


@strawberry.input(description="Overrides of one package as CSV text.")
class PackageRateOverridesImportInput:
    package_id: relay.GlobalID = strawberry.field(description="The package.")
    csv: str = strawberry.field(
        description="CSV with a header kind,key,rate,connection_fee; an empty rate removes."
    )


@strawberry.input(description="The package a client's calls are sold by.")
class ClientPackageSetInput:
    client_id: relay.GlobalID = strawberry.field(description="The client.")
    package_id: relay.GlobalID | None = strawberry.field(
        default=None, description="The package (same reseller), or null to remove it."
    )


@strawberry.input(description="A commission-model client's percent over the base rate.")
class ClientRatePercentSetInput:
    client_id: relay.GlobalID = strawberry.field(description="The client.")
    percent: Decimal = strawberry.field(description="0 to 100, at most four decimals.")


# --- payloads --------------------------------------------------------------------------------


@strawberry.type(description="A rate deck created.")
class RateDeckPayload:
    errors: list[UserError] = strawberry.field(description=ERRORS)
    rate_deck: RateDeck | None = strawberry.field(default=None, description="The deck.")


@strawberry.type(description="The result of a deck import: good rows land, bad ones listed.")
class RateDeckImportPayload:
    errors: list[UserError] = strawberry.field(description=ERRORS)
    rate_deck: RateDeck | None = strawberry.field(default=None, description="The deck.")
    imported: int = strawberry.field(default=0, description="Rows imported or replaced.")
    rejected: int = strawberry.field(default=0, description="Rows rejected.")
    row_errors: list[RowError] = strawberry.field(
        default_factory=list, description="Each rejected row with its line and reason."
    )


@strawberry.type(description="A reseller's base deck set.")
class ResellerBaseDeckPayload:
    errors: list[UserError] = strawberry.field(description=ERRORS)
    reseller: Reseller | None = strawberry.field(default=None, description="The reseller.")
    rate_deck: RateDeck | None = strawberry.field(default=None, description="Its base deck.")


@strawberry.type(description="A package created or changed.")
class PackagePayload:
    errors: list[UserError] = strawberry.field(description=ERRORS)
    package: Package | None = strawberry.field(default=None, description="The package.")


@strawberry.type(description="Overrides set, removed, and (for CSV) rows rejected.")
class PackageRateOverridesPayload:
    errors: list[UserError] = strawberry.field(description=ERRORS)
    package: Package | None = strawberry.field(default=None, description="The package.")
    set: int = strawberry.field(default=0, description="Overrides created or changed.")
    removed: int = strawberry.field(default=0, description="Overrides removed.")
    row_errors: list[RowError] = strawberry.field(
        default_factory=list, description="CSV rows rejected, with line and reason."
    )


@strawberry.type(description="A client's package or personal percent set.")
class ClientRatesPayload:
    errors: list[UserError] = strawberry.field(description=ERRORS)
    client: Client | None = strawberry.field(default=None, description="The client.")
    package: Package | None = strawberry.field(default=None, description="Its package.")
    personal_rate_pct: Decimal | None = strawberry.field(
        default=None, description="Its percent over the base rate (commission model)."
    )


# --- root fields (the resolvers import the types above) --------------------------------------

from api.resolvers import rates as resolvers  # noqa: E402


@strawberry.type(description="Reads of rates: decks, packages, quotes.")
class RatesQuery:
    rate_decks: Connection[RateDeck] = strawberry.field(
        resolver=resolvers.rate_decks,
        description="Rate decks: all (operator) or your base deck (reseller).",
    )
    rates: Connection[Rate] = strawberry.field(
        resolver=resolvers.rates, description="The rates of a deck, optionally under a prefix."
    )
    packages: Connection[Package] = strawberry.field(
        resolver=resolvers.packages, description="Packages the viewer may see."
    )
    rate_quote: RateQuote | None = strawberry.field(
        resolver=resolvers.rate_quote,
        description="The rates a call to a destination would get; null when no prefix matches.",
    )


@strawberry.type(description="Changes of rates: decks, base decks, packages, overrides.")
class RatesMutation:
    rate_deck_create: RateDeckPayload = strawberry.mutation(
        resolver=resolvers.rate_deck_create, description="Create an empty rate deck (operator)."
    )
    rate_deck_import: RateDeckImportPayload = strawberry.mutation(
        resolver=resolvers.rate_deck_import,
        description="Import CSV rates into a deck (operator): good rows land, bad ones listed.",
    )
    reseller_base_deck_set: ResellerBaseDeckPayload = strawberry.mutation(
        resolver=resolvers.reseller_base_deck_set,
        description="Assign a reseller's base deck (operator, audited).",
    )
    package_create: PackagePayload = strawberry.mutation(
        resolver=resolvers.package_create, description="Create a package."
    )
    package_update: PackagePayload = strawberry.mutation(
        resolver=resolvers.package_update, description="Change a package."
    )
    package_rate_overrides_set: PackageRateOverridesPayload = strawberry.mutation(
        resolver=resolvers.package_rate_overrides_set,
        description="Set or remove many rate overrides of a package at once.",
    )
    package_rate_overrides_import: PackageRateOverridesPayload = strawberry.mutation(
        resolver=resolvers.package_rate_overrides_import,
        description="Import rate overrides from CSV: good rows land, bad ones listed.",
    )
    client_package_set: ClientRatesPayload = strawberry.mutation(
        resolver=resolvers.client_package_set, description="Set the package a client is sold by."
    )
    client_rate_percent_set: ClientRatesPayload = strawberry.mutation(
        resolver=resolvers.client_rate_percent_set,
        description="Set a commission-model client's percent over the base rate.",
    )
