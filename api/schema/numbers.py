"""GraphQL of numbers (DIDs): the inventory and its search, orders, assignment, and the
sub-account and DID reports. Assembled as ``NumbersQuery`` / ``NumbersMutation``."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import relay

from api import models
from api.domain import numbers as numbers_domain
from api.resolvers.context import Info
from api.schema.common import Connection, Money, UserError
from api.schema.rates import RowError
from api.schema.types import Client, LedgerEntry, Reseller, _resolve_scoped

if TYPE_CHECKING:
    from api.schema.callers import SubAccount
    from api.schema.rates import Package

SubAccountRef = Annotated["SubAccount", strawberry.lazy("api.schema.callers")]
PackageRef = Annotated["Package", strawberry.lazy("api.schema.rates")]

ERRORS = "Expected failures; when not empty, nothing was changed."

DidStatus = strawberry.enum(
    Enum("DidStatus", {s.upper(): s for s in numbers_domain.STATUSES}),
    description=(
        "AVAILABLE: in the operator's inventory; OWNED: a reseller ordered it; ASSIGNED: the "
        "reseller gave it to one of its clients."
    ),
)
DidRouting = strawberry.enum(
    Enum("DidRouting", {s.upper(): s for s in numbers_domain.ROUTINGS}),
    description="Where calls to a number go: nowhere yet, a sub-account, or a forwarding number.",
)


@strawberry.type(description="A phone number (DID) of the operator's inventory.")
class Did(relay.Node):
    id: relay.NodeID[int]
    number: str = strawberry.field(description="The number, E.164 digits without the +.")
    country: str = strawberry.field(description="ISO 3166 country code.")
    city: str = strawberry.field(description="The city or rate centre.")
    status: DidStatus = strawberry.field(description="Available, owned or assigned.")
    routing: DidRouting = strawberry.field(description="Where its calls go.")
    forward_to: str = strawberry.field(description="The forwarding number, when routed so.")
    reseller_next_billing_date: date | None = strawberry.field(
        description="When the reseller's monthly cost is next due (recurring fees)."
    )
    reseller_setup_fee_charged: bool = strawberry.field(
        description="Whether the reseller paid its setup cost (charged when ordered)."
    )
    client_next_billing_date: date | None = strawberry.field(
        description="When the client's monthly price is next due (recurring fees)."
    )
    client_setup_fee_charged: bool = strawberry.field(
        description="Whether the client was charged its setup price."
    )
    ordered_at: datetime | None = strawberry.field(description="When the reseller ordered it.")
    assigned_at: datetime | None = strawberry.field(description="When it was assigned.")
    created_at: datetime = strawberry.field(description="When it entered the inventory (UTC).")
    currency: str = strawberry.field(description="The currency of its costs and prices.")
    monthly_cost_micros: strawberry.Private[int]
    setup_cost_micros: strawberry.Private[int]
    inbound_rate_micros: strawberry.Private[int]
    monthly_price_micros: strawberry.Private[int]
    setup_price_micros: strawberry.Private[int]
    reseller_pk: strawberry.Private[int | None]
    client_pk: strawberry.Private[int | None]
    sub_account_pk: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, row: models.Did) -> Did:
        return cls(
            id=row.id,
            number=row.number,
            country=row.country,
            city=row.city,
            status=DidStatus(row.status),
            routing=DidRouting(row.routing),
            forward_to=row.forward_to,
            reseller_next_billing_date=row.reseller_next_billing_date,
            reseller_setup_fee_charged=row.reseller_setup_fee_charged,
            client_next_billing_date=row.client_next_billing_date,
            client_setup_fee_charged=row.client_setup_fee_charged,
            ordered_at=row.ordered_at,
            assigned_at=row.assigned_at,
            created_at=row.created_at,
            currency=row.currency,
            monthly_cost_micros=row.monthly_cost,
            setup_cost_micros=row.setup_cost,
            inbound_rate_micros=row.inbound_rate,
            monthly_price_micros=row.monthly_price,
            setup_price_micros=row.setup_price,
            reseller_pk=row.reseller_id,
            client_pk=row.client_id,
            sub_account_pk=row.sub_account_id,
        )

    def _cost(self, info: Info, micros: int) -> Money | None:
        if not numbers_domain.shows_cost(info.context.actor):
            return None
        return Money.of(micros, self.currency)

    @strawberry.field(description="The operator's monthly cost (null for clients).")
    def monthly_cost(self, info: Info) -> Money | None:
        return self._cost(info, self.monthly_cost_micros)

    @strawberry.field(description="The operator's one-time setup cost (null for clients).")
    def setup_cost(self, info: Info) -> Money | None:
        return self._cost(info, self.setup_cost_micros)

    @strawberry.field(
        description="The operator's inbound rate per minute; 0 is a flat-rate number "
        "(null for clients)."
    )
    def inbound_rate(self, info: Info) -> Money | None:
        return self._cost(info, self.inbound_rate_micros)

    @strawberry.field(description="The reseller's monthly price to its client (0 unassigned).")
    def monthly_price(self) -> Money:
        return Money.of(self.monthly_price_micros, self.currency)

    @strawberry.field(description="The reseller's setup price to its client (0 unassigned).")
    def setup_price(self) -> Money:
        return Money.of(self.setup_price_micros, self.currency)

    @strawberry.field(description="The reseller holding it; null while available.")
    async def reseller(self, info: Info) -> Reseller | None:
        if self.reseller_pk is None:
            return None
        return Reseller.from_model(await info.context.loaders.reseller.load(self.reseller_pk))

    @strawberry.field(description="The client it is assigned to, if any.")
    async def client(self, info: Info) -> Client | None:
        if self.client_pk is None:
            return None
        return Client.from_model(await info.context.loaders.client.load(self.client_pk))

    @strawberry.field(description="The sub-account it is assigned to, if any.")
    async def sub_account(self, info: Info) -> SubAccountRef | None:
        if self.sub_account_pk is None:
            return None
        from api.schema.callers import SubAccount

        row = await info.context.loaders.sub_account.load(self.sub_account_pk)
        return SubAccount.from_model(row) if row is not None else None

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False):
        return await _resolve_scoped(cls, info, node_ids, numbers_domain.get_did)


async def dids_of_client(info: Info, client_id: int) -> list[Did]:
    return [Did.from_model(row) for row in await info.context.loaders.client_dids.load(client_id)]


async def dids_of_sub_account(info: Info, sub_account_id: int) -> list[Did]:
    rows = await info.context.loaders.sub_account_dids.load(sub_account_id)
    return [Did.from_model(row) for row in rows]


# --- reports -----------------------------------------------------------------------------------


@strawberry.type(description="The totals of a DID report, in one currency.")
class DidReportTotals:
    currency: str = strawberry.field(description="The currency of these totals.")
    numbers: int = strawberry.field(description="Numbers held (owned or assigned).")
    assigned: int = strawberry.field(description="Of them, assigned to clients.")
    monthly_price: Money = strawberry.field(description="Sum of the clients' monthly prices.")
    monthly_cost: Money = strawberry.field(description="Sum of the operator's monthly costs.")
    monthly_margin: Money = strawberry.field(description="Monthly prices minus monthly costs.")

    @classmethod
    def of(cls, t: numbers_domain.DidReportTotals) -> DidReportTotals:
        return cls(
            currency=t.currency,
            numbers=t.numbers,
            assigned=t.assigned,
            monthly_price=Money.of(t.monthly_price, t.currency),
            monthly_cost=Money.of(t.monthly_cost, t.currency),
            monthly_margin=Money.of(t.monthly_margin, t.currency),
        )


@strawberry.type(
    description="The DID report: numbers held by resellers with their client, sub-account, "
    "monthly price, cost and status; and the totals of the whole filter."
)
class DidReportConnection(Connection[Did]):
    report_query: strawberry.Private[Any]

    @strawberry.field(description="Totals of every number the filter selects, per currency.")
    async def totals(self, info: Info) -> list[DidReportTotals]:
        async with info.context.read() as session:
            found = await numbers_domain.did_report_totals(session, self.report_query)
        return [DidReportTotals.of(t) for t in found]


@strawberry.type(description="One sub-account of the sub-account report.")
class SubAccountReportRow:
    sub_account_pk: strawberry.Private[int]
    client_pk: strawberry.Private[int]
    package_pk: strawberry.Private[int | None]

    @strawberry.field(description="The sub-account.")
    async def sub_account(self, info: Info) -> SubAccountRef:
        from api.schema.callers import SubAccount

        return SubAccount.from_model(
            await info.context.loaders.sub_account.load(self.sub_account_pk)
        )

    @strawberry.field(description="Its client.")
    async def client(self, info: Info) -> Client:
        return Client.from_model(await info.context.loaders.client.load(self.client_pk))

    @strawberry.field(description="Its package (prices and monthly fee), if any.")
    async def package(self, info: Info) -> PackageRef | None:
        if self.package_pk is None:
            return None
        from api.schema.rates import Package

        row = await info.context.loaders.package.load(self.package_pk)
        return Package.from_model(row) if row is not None else None

    @strawberry.field(description="The numbers assigned to it.")
    async def dids(self, info: Info) -> list[Did]:
        return await dids_of_sub_account(info, self.sub_account_pk)


# --- inputs ------------------------------------------------------------------------------------


@strawberry.input(description="Numbers to import into the inventory, as CSV text.")
class DidsImportInput:
    csv: str = strawberry.field(
        description=(
            "CSV with a header: number,country,city,monthly_cost,setup_cost,per_minute,currency "
            "(number E.164; costs in units, blank setup and per_minute 0; per_minute 0 is a "
            "flat-rate number; blank currency = the input's currency)."
        )
    )
    currency: str = strawberry.field(
        default="USD", description="The currency of rows that name none."
    )


@strawberry.input(description="An available number to order; its setup cost is charged at once.")
class DidOrderInput:
    id: relay.GlobalID = strawberry.field(description="The number.")
    idempotency_key: str = strawberry.field(
        description="Your unique key for this request: repeating it changes nothing."
    )
    reseller_id: relay.GlobalID | None = strawberry.field(
        default=None, description="The reseller (the operator must name it)."
    )


@strawberry.input(description="A number the reseller holds, to give to one of its clients.")
class DidAssignInput:
    id: relay.GlobalID = strawberry.field(description="The number.")
    client_id: relay.GlobalID = strawberry.field(description="The client (the same reseller's).")
    sub_account_id: relay.GlobalID | None = strawberry.field(
        default=None, description="A sub-account of that client: its calls are routed there."
    )
    forward_to: str | None = strawberry.field(
        default=None, description="A number to forward its calls to (takes precedence)."
    )
    monthly_price: Decimal = strawberry.field(
        default=Decimal(0), description="The reseller's monthly price to the client."
    )
    setup_price: Decimal = strawberry.field(
        default=Decimal(0), description="The reseller's one-time setup price to the client."
    )


@strawberry.input(
    description="Where an assigned number's calls go: a sub-account of its client, an outside "
    "number, or (neither) nowhere."
)
class DidForwardingSetInput:
    id: relay.GlobalID = strawberry.field(description="The number.")
    sub_account_id: relay.GlobalID | None = strawberry.field(
        default=None, description="A sub-account of the number's client to ring."
    )
    forward_to: str | None = strawberry.field(
        default=None, description="An outside number to forward to (not with subAccountId)."
    )


@strawberry.input(description="A number to act on.")
class DidInput:
    id: relay.GlobalID = strawberry.field(description="The number.")


# --- payloads ----------------------------------------------------------------------------------


@strawberry.type(description="The result of an inventory import: good rows land, bad ones listed.")
class DidsImportPayload:
    errors: list[UserError] = strawberry.field(description=ERRORS)
    imported: int = strawberry.field(default=0, description="Numbers added or updated.")
    rejected: int = strawberry.field(default=0, description="Rows rejected.")
    row_errors: list[RowError] = strawberry.field(
        default_factory=list, description="Each rejected row with its line and reason."
    )


@strawberry.type(description="A number ordered.")
class DidOrderPayload:
    errors: list[UserError] = strawberry.field(description=ERRORS)
    did: Did | None = strawberry.field(default=None, description="The number.")
    entry: LedgerEntry | None = strawberry.field(
        default=None, description="The ledger entry of its setup cost (none when free)."
    )
    replayed: bool = strawberry.field(
        default=False, description="True when this key was seen before and nothing changed."
    )


@strawberry.type(description="A number assigned, unassigned or released.")
class DidPayload:
    errors: list[UserError] = strawberry.field(description=ERRORS)
    did: Did | None = strawberry.field(default=None, description="The number.")


# --- root fields (the resolvers import the types above) ----------------------------------------

from api.resolvers import numbers as resolvers  # noqa: E402


@strawberry.type(description="Reads of numbers (DIDs) and their reports.")
class NumbersQuery:
    dids: Connection[Did] = strawberry.field(
        resolver=resolvers.dids,
        description=(
            "Numbers the viewer may see: all (operator); a reseller's own and the available ones "
            "in its currency; a client's assigned ones. With filters."
        ),
    )
    dids_available: Connection[Did] = strawberry.field(
        resolver=resolvers.dids_available,
        description="Search the available numbers of the inventory (by country, city, prefix).",
    )
    did_report: DidReportConnection = strawberry.field(
        resolver=resolvers.did_report,
        description=(
            "The DID report: numbers held by resellers (number, client, sub-account, monthly "
            "price, cost, status) with totals. Also as CSV: /exports/dids.csv."
        ),
    )
    sub_account_report: Connection[SubAccountReportRow] = strawberry.field(
        resolver=resolvers.sub_account_report,
        description=(
            "The sub-account report: each sub-account with its client, package and numbers. "
            "Also as CSV: /exports/sub-accounts.csv."
        ),
    )


@strawberry.type(description="Changes of numbers (DIDs).")
class NumbersMutation:
    dids_import: DidsImportPayload = strawberry.mutation(
        resolver=resolvers.dids_import,
        description="Import numbers into the inventory from CSV (operator): good rows land.",
    )
    did_order: DidOrderPayload = strawberry.mutation(
        resolver=resolvers.did_order,
        description=(
            "Order an available number: its setup cost is charged to the reseller's balance at "
            "once (INSUFFICIENT_FUNDS, nothing changed, when it does not cover it)."
        ),
    )
    did_assign: DidPayload = strawberry.mutation(
        resolver=resolvers.did_assign,
        description="Assign a number the reseller holds to one of its clients, with its prices.",
    )
    did_forwarding_set: DidPayload = strawberry.mutation(
        resolver=resolvers.did_forwarding_set,
        description=(
            "Set where an assigned number's calls go (a sub-account of its client, an outside "
            "number, or nowhere): the reseller (clients:write), or the client holding it."
        ),
    )
    did_unassign: DidPayload = strawberry.mutation(
        resolver=resolvers.did_unassign,
        description="Take a number back from its client; the reseller still holds it.",
    )
    did_release: DidPayload = strawberry.mutation(
        resolver=resolvers.did_release,
        description="Give an unassigned number back to the inventory (nothing is refunded).",
    )
