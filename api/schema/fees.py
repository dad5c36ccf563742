"""GraphQL of recurring and one-time fees: the fee charges, and the setup fees charged on
request. Assembled as ``FeesQuery`` / ``FeesMutation``."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import relay

from api import models
from api.domain import fees as fees_domain
from api.resolvers.context import Info
from api.schema.common import Connection, Money, UserError
from api.schema.types import Client, Reseller, _resolve_scoped

if TYPE_CHECKING:
    from api.schema.callers import SubAccount
    from api.schema.numbers import Did

SubAccountRef = Annotated["SubAccount", strawberry.lazy("api.schema.callers")]
DidRef = Annotated["Did", strawberry.lazy("api.schema.numbers")]

ERRORS = "Expected failures; when not empty, nothing was changed."

FeeKind = strawberry.enum(
    Enum("FeeKind", {k.upper(): k for k in fees_domain.KINDS}),
    description="MONTHLY: one period of a monthly fee; SETUP: a one-time setup fee.",
)
FeeSubjectType = strawberry.enum(
    Enum("FeeSubjectType", {k.upper(): k for k in fees_domain.SUBJECT_TYPES}),
    description="What a fee is for: a sub-account (its package) or a number (DID).",
)
FeePayer = strawberry.enum(
    Enum("FeePayer", {"CLIENT": "client", "RESELLER": "reseller"}),
    description=(
        "Who paid a fee: the client (the reseller's price) or the reseller (the operator's "
        "cost of a number it holds)."
    ),
)


@strawberry.type(description="What a fee is for: a sub-account's package or a number.")
class FeeSubject:
    subject_type: FeeSubjectType = strawberry.field(description="A sub-account or a number.")
    subject_pk: strawberry.Private[int]

    @strawberry.field(description="The sub-account, when the fee is a package's.")
    async def sub_account(self, info: Info) -> SubAccountRef | None:
        if self.subject_type.value != fees_domain.SUB_ACCOUNT:
            return None
        from api.schema.callers import SubAccount

        row = await info.context.loaders.sub_account.load(self.subject_pk)
        return SubAccount.from_model(row) if row is not None else None

    @strawberry.field(description="The number, when the fee is a number's.")
    async def did(self, info: Info) -> DidRef | None:
        if self.subject_type.value != fees_domain.DID:
            return None
        from api.schema.numbers import Did

        row = await info.context.loaders.did.load(self.subject_pk)
        return Did.from_model(row) if row is not None else None


@strawberry.type(
    description="The next period of a client's monthly fee: what will be charged, and when."
)
class UpcomingFee(FeeSubject):
    due_on: date = strawberry.field(description="The day it is charged (UTC).")
    period_end: date = strawberry.field(description="The last day of the period it pays for.")
    amount: Money = strawberry.field(description="What the client will pay.")
    description: str = strawberry.field(description="What it is, in words.")

    @classmethod
    def of(cls, fee: fees_domain.UpcomingFee, currency: str) -> UpcomingFee:
        return cls(
            subject_type=FeeSubjectType(fee.subject_type),
            subject_pk=fee.subject_id,
            due_on=fee.due_on,
            period_end=fee.period_end,
            amount=Money.of(fee.amount, currency),
            description=fee.description,
        )


@strawberry.type(description="One fee charged: a period of a monthly fee, or a setup fee.")
class FeeCharge(FeeSubject, relay.Node):
    id: relay.NodeID[int]
    kind: FeeKind = strawberry.field(description="Monthly or setup.")
    paid_by: FeePayer = strawberry.field(description="The client or the reseller.")
    period_start: date = strawberry.field(description="The first day of the period charged.")
    period_end: date = strawberry.field(
        description="The last day of the period charged (a setup fee: its day)."
    )
    description: str = strawberry.field(description="What was charged, in words.")
    client_amount: Money = strawberry.field(description="What the client paid (0 if none).")
    invoiced: bool = strawberry.field(description="Whether an invoice includes it.")
    created_at: datetime = strawberry.field(description="When it was charged (UTC).")
    reseller_cost_micros: strawberry.Private[int]
    currency: strawberry.Private[str]
    client_pk: strawberry.Private[int | None]
    reseller_pk: strawberry.Private[int]
    entry_pk: strawberry.Private[int]

    @classmethod
    def from_model(cls, row: models.FeeCharge) -> FeeCharge:
        return cls(
            id=row.id,
            kind=FeeKind(row.kind),
            subject_type=FeeSubjectType(row.subject_type),
            paid_by=FeePayer(row.payer.split(":", 1)[0]),
            period_start=row.period_start,
            period_end=row.period_end,
            description=row.description,
            client_amount=Money.of(row.client_amount, row.currency),
            invoiced=row.invoice_id is not None,
            created_at=row.created_at,
            reseller_cost_micros=row.reseller_cost,
            currency=row.currency,
            subject_pk=row.subject_id,
            client_pk=row.client_id,
            reseller_pk=row.reseller_id,
            entry_pk=row.entry_id,
        )

    @strawberry.field(
        description="What the reseller paid the operator (a number's cost; null for clients)."
    )
    def reseller_cost(self, info: Info) -> Money | None:
        if not fees_domain.shows_cost(info.context.actor):
            return None
        return Money.of(self.reseller_cost_micros, self.currency)

    @strawberry.field(description="The ledger entry that moved the money.")
    def entry_id(self) -> relay.GlobalID:
        return relay.GlobalID("LedgerEntry", str(self.entry_pk))

    @strawberry.field(description="The client who paid, if a client did.")
    async def client(self, info: Info) -> Client | None:
        if self.client_pk is None:
            return None
        return Client.from_model(await info.context.loaders.client.load(self.client_pk))

    @strawberry.field(description="The reseller whose fee or cost it is.")
    async def reseller(self, info: Info) -> Reseller:
        return Reseller.from_model(await info.context.loaders.reseller.load(self.reseller_pk))

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False):
        return await _resolve_scoped(cls, info, node_ids, fees_domain.get_fee_charge)


# --- inputs and payloads -----------------------------------------------------------------------


@strawberry.input(description="A sub-account whose package's activation fee to charge now.")
class SubAccountActivationFeeChargeInput:
    id: relay.GlobalID = strawberry.field(description="The sub-account.")
    idempotency_key: str = strawberry.field(
        description="Your unique key for this request: repeating it changes nothing."
    )


@strawberry.input(description="An assigned number whose setup price to charge its client now.")
class DidSetupFeeChargeInput:
    id: relay.GlobalID = strawberry.field(description="The number.")
    idempotency_key: str = strawberry.field(
        description="Your unique key for this request: repeating it changes nothing."
    )


@strawberry.type(description="A setup fee charged.")
class FeeChargePayload:
    errors: list[UserError] = strawberry.field(description=ERRORS)
    fee_charge: FeeCharge | None = strawberry.field(default=None, description="The charge.")
    replayed: bool = strawberry.field(
        default=False, description="True when this key was seen before and nothing changed."
    )


# --- root fields (the resolvers import the types above) ----------------------------------------

from api.resolvers import fees as resolvers  # noqa: E402


@strawberry.type(description="Reads of fees.")
class FeesQuery:
    fee_charges: Connection[FeeCharge] = strawberry.field(
        resolver=resolvers.fee_charges,
        description=(
            "Fees charged, newest first: all (operator), a reseller's own, or a client's own "
            "(what it paid; never the reseller's cost)."
        ),
    )


@strawberry.type(description="Changes of fees.")
class FeesMutation:
    sub_account_activation_fee_charge: FeeChargePayload = strawberry.mutation(
        resolver=resolvers.sub_account_activation_fee_charge,
        description=(
            "Charge a sub-account's activation fee (its package's setup fee) to its client now, "
            "once: CONFLICT when it was charged before, VALIDATION when there is none."
        ),
    )
    did_setup_fee_charge: FeeChargePayload = strawberry.mutation(
        resolver=resolvers.did_setup_fee_charge,
        description=(
            "Charge an assigned number's setup price to its client now, once per assignment: "
            "CONFLICT when it was charged before, VALIDATION when there is none."
        ),
    )
