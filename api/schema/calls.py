"""Calls: CDR ingestion (``callsIngest``) and the calls report (``calls`` with its totals).
Assembled as ``CallsQuery`` / ``CallsMutation`` (bases in schema.py)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry import relay
from strawberry.types.arguments import InputContext

from api import models
from api.domain import reports
from api.resolvers.context import Info
from api.schema.callers import SubAccount
from api.schema.common import (
    INPUT,
    After,
    AnsweredTime,
    Connection,
    First,
    Money,
    UserError,
    described,
)
from api.schema.types import Client

ERRORS = "Expected failures; when not empty, nothing was changed."

CallDirection = strawberry.enum(
    Enum("CallDirection", {"OUTBOUND": "outbound", "INBOUND": "inbound"}),
    description="Whether the client called out, or was called.",
)
CallDisposition = strawberry.enum(
    Enum(
        "CallDisposition",
        {"ANSWERED": "answered", "NO_ANSWER": "no_answer", "BUSY": "busy", "FAILED": "failed"},
    ),
    description="How the call ended.",
)


def per_minute(value: Decimal | int, currency: str) -> Money:
    """A rate in micros per minute (possibly between micros) as money per minute."""
    units = Decimal(value) / 1_000_000
    exact = units.quantize(Decimal("0.000001"))
    return Money(amount=exact if exact == units else units.normalize(), currency=currency)


@strawberry.type(description="One finished call, with what the client pays for it.")
class Call(relay.Node):
    id: relay.NodeID[int]
    call_id: str = strawberry.field(description="The switch's unique id of the call.")
    direction: CallDirection = strawberry.field(description="Outbound or inbound.")
    a_number: str = strawberry.field(description="The calling number, as the switch gave it.")
    destination: str = strawberry.field(description="The dialled number.")
    destination_name: str = strawberry.field(description="The matched destination's name.")
    matched_prefix: str = strawberry.field(description="The rate deck prefix that matched.")
    started_at: datetime = strawberry.field(description="When the call started (UTC).")
    duration: int = strawberry.field(description="Seconds from start to end, ringing included.")
    billsec: int = strawberry.field(description="Seconds answered (0 when not answered).")
    disposition: CallDisposition = strawberry.field(description="How the call ended.")
    sell: Money = strawberry.field(description="What the client pays for the call.")
    sell_rate: Money = strawberry.field(description="The client's price per minute.")
    sell_billed_seconds: int = strawberry.field(
        description="Seconds billed to the client (its package's increments)."
    )
    free_seconds: int = strawberry.field(
        description="Of the billed seconds, those its package's free minutes paid for."
    )
    rule: str = strawberry.field(
        description="What set the client's price: prefix, country, nanpa, markup, cost (no "
        "package: sold at cost), base, personal, inbound, no_route."
    )
    cost: Money | None = strawberry.field(
        description="What the reseller pays the operator (null for client viewers)."
    )
    cost_rate: Money | None = strawberry.field(
        description="The platform rate per minute (null for client viewers)."
    )
    cost_billed_seconds: int | None = strawberry.field(
        description="Seconds billed at cost (the deck's increments; null for client viewers)."
    )
    profit: Money | None = strawberry.field(
        description="Sell minus cost (null for client viewers)."
    )
    client_pk: strawberry.Private[int]
    sub_account_pk: strawberry.Private[int | None]
    currency_code: strawberry.Private[str]

    @strawberry.field(description="The global id of the calling client.")
    def client_id(self) -> relay.GlobalID:
        return relay.GlobalID("Client", str(self.client_pk))

    @strawberry.field(description="The global id of the calling sub-account, if it called as one.")
    def sub_account_id(self) -> relay.GlobalID | None:
        if self.sub_account_pk is None:
            return None
        return relay.GlobalID("SubAccount", str(self.sub_account_pk))

    @strawberry.field(description="The calling client (batched: one query for the whole page).")
    async def client(self, info: Info) -> Client:
        row = await info.context.loaders.client.load(self.client_pk)
        return Client.from_model(row, self.currency_code)

    @strawberry.field(
        description="The calling sub-account, if it called as one (batched for the whole page)."
    )
    async def sub_account(self, info: Info) -> SubAccount | None:
        if self.sub_account_pk is None:
            return None
        row = await info.context.loaders.sub_account.load(self.sub_account_pk)
        return None if row is None else SubAccount.from_model(row)

    @classmethod
    def from_model(cls, row: models.Call, show_cost: bool = False) -> Call:
        cur = row.currency
        return cls(
            id=row.id,
            call_id=row.call_id,
            direction=CallDirection(row.direction),
            a_number=row.a_number,
            destination=row.destination,
            destination_name=row.destination_name,
            matched_prefix=row.matched_prefix,
            started_at=row.started_at,
            duration=row.duration,
            billsec=row.billsec,
            disposition=CallDisposition(row.disposition),
            sell=Money.of(row.sell, cur),
            sell_rate=per_minute(row.sell_rate, cur),
            sell_billed_seconds=row.sell_billed,
            free_seconds=row.free_seconds,
            rule=row.rule,
            cost=Money.of(row.cost, cur) if show_cost else None,
            cost_rate=per_minute(row.cost_rate, cur) if show_cost else None,
            cost_billed_seconds=row.cost_billed if show_cost else None,
            profit=Money.of(row.sell - row.cost, cur) if show_cost else None,
            client_pk=row.client_id,
            sub_account_pk=row.sub_account_id,
            currency_code=cur,
        )

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False):
        from api.domain.errors import DomainError

        actor = info.context.actor
        show = reports.shows_cost(actor)
        out: list[Call | None] = []
        async with info.context.read() as session:
            for node_id in node_ids:
                try:
                    pk = int(node_id)
                    if not 0 < pk < 2**63:
                        raise ValueError(node_id)
                    out.append(cls.from_model(await reports.get_call(session, actor, pk), show))
                except (DomainError, ValueError):
                    out.append(None)
        return out


@strawberry.type(description="The totals of the calls a filter selects, in one currency.")
class CallTotals(AnsweredTime):
    currency: str = strawberry.field(description="The currency of these totals.")
    count: int = strawberry.field(description="How many calls.")
    sell: Money = strawberry.field(description="What the clients pay for them.")
    cost: Money | None = strawberry.field(
        description="What the reseller pays the operator (null for client viewers)."
    )
    profit: Money | None = strawberry.field(
        description="Sell minus cost (null for client viewers)."
    )
    from_rollups: bool = strawberry.field(
        description="True when read from the daily rollups (filters of client / reseller, "
        "direction and whole UTC days), false when summed over the filtered calls."
    )

    @classmethod
    def of(cls, t: reports.Totals, show_cost: bool) -> CallTotals:
        return cls(
            currency=t.currency,
            count=t.calls,
            answered_seconds=t.seconds,
            sell=Money.of(t.sell, t.currency),
            cost=Money.of(t.cost, t.currency) if show_cost else None,
            profit=Money.of(t.profit, t.currency) if show_cost else None,
            from_rollups=t.from_rollups,
        )


@strawberry.type(description="The totals of one UTC day's calls, in one currency.")
class CallDayTotals(CallTotals):
    day: date = strawberry.field(description="The UTC day the calls started.")


@strawberry.type(description="A page of calls, newest first, and the totals of the whole filter.")
class CallConnection(Connection[Call]):
    call_filter: strawberry.Private[Any]

    @strawberry.field(
        description="Totals of every call the filter selects (not only this page), one per "
        "currency (only the operator may see several)."
    )
    async def totals(self, info: Info) -> list[CallTotals]:
        actor = info.context.actor
        async with info.context.read() as session:
            found = await reports.totals(session, actor, self.call_filter)
        return [CallTotals.of(t, reports.shows_cost(actor)) for t in found]

    @strawberry.field(
        description="Totals per UTC day of every call the filter selects, oldest first, one "
        "per day and currency; days without calls are left out. Needs a period of whole UTC "
        "days (from and to at midnight, at most 366 days), filtered at most by client, "
        "reseller and direction."
    )
    async def daily(self, info: Info) -> list[CallDayTotals]:
        actor = info.context.actor
        async with info.context.read() as session:
            found = await reports.daily_totals(session, actor, self.call_filter)
        show = reports.shows_cost(actor)
        return [CallDayTotals(day=day, **vars(CallTotals.of(t, show))) for day, t in found]


# --- ingestion --------------------------------------------------------------------------------


@strawberry.input(description="One finished call as the switch reports it.")
class CallInput:
    call_id: str = strawberry.field(description="The switch's unique id of the call.")
    destination: str = strawberry.field(description="The dialled number.")
    started_at: datetime = strawberry.field(
        description="When the call started (ISO 8601; without an offset, UTC)."
    )
    duration: int = strawberry.field(description="Seconds from start to end, ringing included.")
    disposition: CallDisposition = strawberry.field(description="How the call ended.")
    billsec: int = strawberry.field(default=0, description="Seconds answered.")
    sub_account: str | None = strawberry.field(
        default=None, description="The SIP username of the calling sub-account."
    )
    a_number: str | None = strawberry.field(
        default=None,
        description="The calling number: identifies the client when no sub-account is given.",
    )
    direction: CallDirection = strawberry.field(
        default=CallDirection.OUTBOUND, description="Outbound (default) or inbound."
    )


@strawberry.input(description="A batch of finished calls (at most 1,000).")
class CallsIngestInput:
    calls: list[CallInput] = strawberry.field(description="The calls, rows numbered from 1.")
    home_country: str | None = strawberry.field(
        default=None,
        description=(
            "The country the switch dials from (ISO 3166 two-letter code, e.g. GB): how "
            "national numbers and its exit code are read. Default: each caller's reseller's."
        ),
    )


def _ingest_input(
    cls: type[CallsIngestInput], value: Mapping[str, Any], context: InputContext
) -> CallsIngestInput:
    """The batch built straight from the values graphql-core coerced. Every field of a
    ``CallInput`` is a scalar or an enum, already of its Python type with its default filled
    in, which strawberry's conversion would only copy, field by field, for each call."""
    graphql_name = context.config.name_converter.from_field
    python_names = {
        graphql_name(f): f.python_name for f in CallInput.__strawberry_definition__.fields
    }
    return cls(
        calls=[
            CallInput(**{python_names[k]: v for k, v in call.items()}) for call in value["calls"]
        ],
        home_country=value.get("homeCountry"),
    )


# strawberry's hook for input types that build their own value
CallsIngestInput.__strawberry_definition__.from_input = _ingest_input


@strawberry.type(description="A call of the batch that was skipped, and why.")
class CallRowError:
    row: int = strawberry.field(description="Its position in the batch (from 1).")
    message: str = strawberry.field(description="Why it was skipped.")
    duplicate: bool = strawberry.field(
        description="True when its call id was seen before (not an error to fix)."
    )


@strawberry.type(description="The totals of the calls ingested, in one currency.")
class IngestTotals(AnsweredTime):
    currency: str = strawberry.field(description="The currency of these totals.")
    calls: int = strawberry.field(description="How many calls landed.")
    cost: Money = strawberry.field(description="What they cost the resellers.")
    sell: Money = strawberry.field(description="What the clients pay for them.")


@strawberry.type(description="What became of a batch of calls.")
class CallsIngestPayload:
    errors: list[UserError] = strawberry.field(description=ERRORS)
    ingested: int = strawberry.field(default=0, description="Calls stored, rated and posted.")
    duplicates: int = strawberry.field(default=0, description="Calls whose id was seen before.")
    rejected: int = strawberry.field(
        default=0, description="Calls refused (malformed, unknown caller, no rate)."
    )
    row_errors: list[CallRowError] = strawberry.field(
        default_factory=list, description="Every skipped call with its row and reason."
    )
    totals: list[IngestTotals] = strawberry.field(
        default_factory=list, description="What landed, per currency."
    )


from api.resolvers import calls as r  # noqa: E402  (resolvers use the types above)


@strawberry.type(description="Reads of calls.")
class CallsQuery:
    @strawberry.field(
        description="Calls the viewer may see, newest first (keyset): a reseller's, one "
        "client's or one sub-account's; clients see their own, sell side only."
    )
    async def calls(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        client_id: Annotated[relay.GlobalID | None, described("Only this client's.")] = None,
        sub_account_id: Annotated[
            relay.GlobalID | None, described("Only this sub-account's.")
        ] = None,
        reseller_id: Annotated[
            relay.GlobalID | None, described("Only this reseller's (operator).")
        ] = None,
        from_: Annotated[
            datetime | None,
            strawberry.argument(name="from", description="Started at or after (UTC)."),
        ] = None,
        to: Annotated[datetime | None, described("Started before (UTC).")] = None,
        direction: Annotated[CallDirection | None, described("Only this direction.")] = None,
        disposition: Annotated[CallDisposition | None, described("Only this outcome.")] = None,
        destination_prefix: Annotated[
            str | None, described("Only destinations starting with these digits.")
        ] = None,
        number: Annotated[
            str | None, described("Only calls whose A-number or destination contains this.")
        ] = None,
        before: Annotated[
            str | None,
            described(
                "The page just before this cursor (pageInfo.startCursor), still newest first; "
                "not with after."
            ),
        ] = None,
    ) -> CallConnection:
        return await r.calls(
            info,
            first=first,
            after=after,
            before=before,
            client_id=client_id,
            sub_account_id=sub_account_id,
            reseller_id=reseller_id,
            started_from=from_,
            started_to=to,
            direction=direction.value if direction else None,
            disposition=disposition.value if disposition else None,
            prefix=destination_prefix,
            number=number,
        )


@strawberry.type(description="Changes of calls.")
class CallsMutation:
    @strawberry.mutation(
        description="Ingest finished calls (at most 1,000): each is matched, rated, stored and "
        "posted; duplicates and bad rows are reported and skipped, the rest lands."
    )
    async def calls_ingest(
        self, info: Info, input: Annotated[CallsIngestInput, INPUT]
    ) -> CallsIngestPayload:
        return await r.calls_ingest(info, input)
