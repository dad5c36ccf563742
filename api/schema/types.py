"""The object types of the API. Each wraps one ORM row; fields that need more data load it
through the per-request data loaders or a scoped domain query."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from api import models
from api.domain import accounts as accounts_domain
from api.domain import alerts
from api.resolvers.context import Info
from api.schema.common import After, Connection, First, Money

BillingModel = strawberry.enum(
    Enum("BillingModel", {m.upper(): m for m in accounts_domain.BILLING_MODELS}),
    description="How a reseller is paid: markup over cost, or commission on client deposits.",
)
BillingMode = strawberry.enum(
    Enum("BillingMode", {m.upper(): m for m in accounts_domain.BILLING_MODES}),
    description="How a client pays: strict or permissive prepaid, or postpaid with a limit.",
)
ClientStatus = strawberry.enum(
    Enum("ClientStatus", {m.upper(): m for m in accounts_domain.CLIENT_STATUSES}),
    description="Whether a client may call.",
)
ResellerStatus = strawberry.enum(
    Enum("ResellerStatus", {m.upper(): m for m in accounts_domain.RESELLER_STATUSES}),
    description="Whether a reseller is active.",
)
Characteristic = strawberry.enum(
    Enum("Characteristic", {m.upper(): m for m in accounts_domain.CHARACTERISTICS}),
    description="The reseller's own rating of a client.",
)


if TYPE_CHECKING:
    from api.schema.callers import SubAccount
    from api.schema.fees import UpcomingFee
    from api.schema.numbers import Did
    from api.schema.payment_history import ClientPayment
    from api.schema.rates import Package

SubAccountRef = Annotated["SubAccount", strawberry.lazy("api.schema.callers")]
PackageRef = Annotated["Package", strawberry.lazy("api.schema.rates")]
DidRef = Annotated["Did", strawberry.lazy("api.schema.numbers")]
UpcomingFeeRef = Annotated["UpcomingFee", strawberry.lazy("api.schema.fees")]
ClientPaymentRef = Annotated["ClientPayment", strawberry.lazy("api.schema.payment_history")]

MAX_ID = 2**63  # ids are 64-bit at most: anything larger names nothing


async def _resolve_scoped(cls: Any, info: Info, node_ids: Iterable[str], fetch) -> list[Any]:
    """Resolve nodes one by one through a scoped domain lookup: not found -> null."""
    from api.domain.errors import DomainError

    out = []
    async with info.context.read() as session:
        for node_id in node_ids:
            try:
                pk = int(node_id)
                if not 0 < pk < MAX_ID:
                    raise ValueError(node_id)
                row = await fetch(session, info.context.actor, pk)
                out.append(cls.from_model(row))
            except (DomainError, ValueError):
                out.append(None)
    return out


@strawberry.type(description="A reseller (agent) of the operator.")
class Reseller(relay.Node):
    id: relay.NodeID[int]
    name: str = strawberry.field(description="The reseller's name.")
    currency: str = strawberry.field(description="The currency of its balance and its clients.")
    timezone: str = strawberry.field(description="IANA time zone for its reports.")
    home_country: str = strawberry.field(
        description="The country its switches dial from (ISO 3166 two-letter code; empty: none)."
    )
    billing_model: BillingModel = strawberry.field(description="Markup or commission.")
    commission_pct: Decimal = strawberry.field(
        description="Percent of each client deposit the operator credits it (commission model)."
    )
    status: ResellerStatus = strawberry.field(description="Active or suspended.")
    status_reason: str = strawberry.field(description="Why it is not active, if it is not.")
    created_at: datetime = strawberry.field(description="When it was created (UTC).")
    low_balance_threshold_micros: strawberry.Private[int]
    base_deck_pk: strawberry.Private[int | None] = None

    @classmethod
    def from_model(cls, row: models.Reseller) -> Reseller:
        return cls(
            id=row.id,
            name=row.name,
            currency=row.currency,
            timezone=row.timezone,
            home_country=row.home_country,
            billing_model=BillingModel(row.billing_model),
            commission_pct=row.commission_pct,
            status=ResellerStatus(row.status),
            status_reason=row.status_reason,
            created_at=row.created_at,
            low_balance_threshold_micros=row.low_balance_threshold,
            base_deck_pk=row.base_deck_id,
        )

    @strawberry.field(description="Its prepaid balance with the operator (not shown to clients).")
    async def balance(self, info: Info) -> Money | None:
        if not info.context.actor.sees_reseller(self.id):
            return None
        return Money.of(await info.context.loaders.reseller_balance.load(self.id), self.currency)

    @strawberry.field(
        description="The rate deck its calls cost by (null: none set, or not shown to clients)."
    )
    def base_deck_id(self, info: Info) -> relay.GlobalID | None:
        if self.base_deck_pk is None or not info.context.actor.sees_reseller(self.id):
            return None
        return relay.GlobalID("RateDeck", str(self.base_deck_pk))

    @strawberry.field(description="The balance under which it is warned.")
    def low_balance_threshold(self) -> Money:
        return Money.of(self.low_balance_threshold_micros, self.currency)

    @strawberry.field(description="Its clients the viewer may see.")
    async def clients(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[Client]:
        from api.resolvers.clients import clients_connection

        return await clients_connection(info, first=first, after=after, reseller_id=self.id)

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False):
        return await _resolve_scoped(cls, info, node_ids, accounts_domain.get_reseller)


@strawberry.type(description="A reseller's customer.")
class Client(relay.Node):
    id: relay.NodeID[int]
    name: str = strawberry.field(description="The client's name.")
    company: str = strawberry.field(description="Company name.")
    contact_name: str = strawberry.field(description="Contact person.")
    email: str = strawberry.field(description="Contact email.")
    phone: str = strawberry.field(description="Contact phone.")
    language: str = strawberry.field(description="Preferred language (e.g. en, pt-BR).")
    country: str = strawberry.field(description="ISO country code.")
    notes: str = strawberry.field(description="The reseller's notes.")
    characteristic: Characteristic = strawberry.field(description="Normal, good or conflict.")
    label: str = strawberry.field(description="A free label for grouping.")
    billing_mode: BillingMode = strawberry.field(description="How the client pays.")
    status: ClientStatus = strawberry.field(description="Whether it may call.")
    status_reason: str = strawberry.field(description="Why it is not active, if it is not.")
    created_at: datetime = strawberry.field(description="When it was created (UTC).")
    reseller_id: strawberry.Private[int]
    currency_code: strawberry.Private[str]
    credit_limit_micros: strawberry.Private[int]
    low_balance_micros: strawberry.Private[int]
    package_pk: strawberry.Private[int | None] = None
    personal_rate_pct: Decimal = strawberry.field(
        default=Decimal(0),
        description="Commission model: the percent over the base rate this client pays.",
    )

    @classmethod
    def from_model(cls, row: models.Client, currency: str = "") -> Client:
        return cls(
            id=row.id,
            name=row.name,
            company=row.company,
            contact_name=row.contact_name,
            email=row.email,
            phone=row.phone,
            language=row.language,
            country=row.country,
            notes=row.notes,
            characteristic=Characteristic(row.characteristic),
            label=row.label,
            billing_mode=BillingMode(row.billing_mode),
            status=ClientStatus(row.status),
            status_reason=row.status_reason,
            created_at=row.created_at,
            reseller_id=row.reseller_id,
            currency_code=currency,
            credit_limit_micros=row.credit_limit,
            low_balance_micros=row.low_balance_threshold,
            package_pk=row.package_id,
            personal_rate_pct=row.personal_rate_pct,
        )

    async def _currency(self, info: Info) -> str:
        if not self.currency_code:
            self.currency_code = (
                await info.context.loaders.reseller.load(self.reseller_id)
            ).currency
        return self.currency_code

    @strawberry.field(description="The client's balance (negative: it owes).")
    async def balance(self, info: Info) -> Money:
        micros = await info.context.loaders.client_balance.load(self.id)
        return Money.of(micros, await self._currency(info))

    @strawberry.field(description="Postpaid: how far below zero its balance may go.")
    async def credit_limit(self, info: Info) -> Money:
        return Money.of(self.credit_limit_micros, await self._currency(info))

    @strawberry.field(description="The balance under which the client is warned.")
    async def low_balance_threshold(self, info: Info) -> Money:
        return Money.of(self.low_balance_micros, await self._currency(info))

    @strawberry.field(
        description="Postpaid: how much of its credit it uses (what it owes: 0 while its "
        "balance is not negative)."
    )
    async def credit_used(self, info: Info) -> Money:
        micros = await info.context.loaders.client_balance.load(self.id)
        return Money.of(max(0, -micros), await self._currency(info))

    @strawberry.field(
        description="Whether its balance is under its low-balance threshold (the rule of the "
        "low-balance alert; a threshold of 0 never warns)."
    )
    async def low_balance(self, info: Info) -> bool:
        micros = await info.context.loaders.client_balance.load(self.id)
        return alerts.is_below(self.low_balance_micros, micros)

    @strawberry.field(description="Markup model: the package its calls without a sub-account use.")
    async def package(self, info: Info) -> PackageRef | None:
        if self.package_pk is None:
            return None
        from api.schema.rates import Package

        row = await info.context.loaders.package.load(self.package_pk)
        return Package.from_model(row) if row is not None else None

    @strawberry.field(description="The reseller this client belongs to.")
    async def reseller(self, info: Info) -> Reseller:
        return Reseller.from_model(await info.context.loaders.reseller.load(self.reseller_id))

    @strawberry.field(description="Its money movements, newest first.")
    async def ledger_entries(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[LedgerEntry]:
        from api.resolvers.payments import entries_connection

        return await entries_connection(info, first=first, after=after, client_id=self.id)

    @strawberry.field(
        description="Payments into its balance (PayPal, by hand, credit from its reseller), "
        "newest first, each with what was refunded or reversed of it."
    )
    async def payments(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[ClientPaymentRef]:
        from api.resolvers.payment_history import client_payments

        return await client_payments(info, self.id, first=first, after=after)

    @strawberry.field(description="Its SIP accounts (sub-accounts).")
    async def sub_accounts(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[SubAccountRef]:
        from api.resolvers.callers import sub_accounts_connection

        return await sub_accounts_connection(info, first=first, after=after, client_id=self.id)

    @strawberry.field(description="The numbers it calls from (A-numbers), as digits.")
    async def numbers(self, info: Info) -> list[str]:
        from api.resolvers.callers import client_numbers

        return await client_numbers(info, self.id)

    @strawberry.field(
        description="The numbers its sub-accounts may show as caller ID: its DIDs and the "
        "numbers it calls from, as digits (batched)."
    )
    async def caller_id_numbers(self, info: Info) -> list[str]:
        from api.resolvers.callers import client_caller_id_numbers

        return await client_caller_id_numbers(info, self.id)

    @strawberry.field(description="The phone numbers (DIDs) assigned to it.")
    async def dids(self, info: Info) -> list[DidRef]:
        from api.schema.numbers import dids_of_client

        return await dids_of_client(info, self.id)

    @strawberry.field(
        description="Its next monthly fees, soonest first: its sub-accounts' packages and its "
        "numbers that cost something, each with the day it is charged."
    )
    async def upcoming_fees(self, info: Info) -> list[UpcomingFeeRef]:
        from api.schema.fees import UpcomingFee

        fees = await info.context.loaders.upcoming_fees.load(self.id)
        currency = await self._currency(info)
        return [UpcomingFee.of(fee, currency) for fee in fees]

    @strawberry.field(description="Its client portal logins, by email (active ones only).")
    async def users(self, info: Info) -> list[User]:
        rows = await info.context.loaders.client_users.load(self.id)
        return [User.from_model(row) for row in rows if row.is_active]

    @strawberry.field(description="Whether it has a PIN for calls from unlisted numbers.")
    async def has_pin(self, info: Info) -> bool:
        from api.resolvers.callers import client_has_pin

        return await client_has_pin(info, self.id)

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False):
        return await _resolve_scoped(cls, info, node_ids, accounts_domain.get_client)


@strawberry.type(
    description="One posting of a ledger entry: money into (+) or out of (-) one account."
)
class Posting:
    account: str = strawberry.field(description="The account's key, e.g. client:12.")
    amount: Money = strawberry.field(description="Signed amount.")


@strawberry.type(description="One movement of money. Entries are never edited or deleted.")
class LedgerEntry(relay.Node):
    id: relay.NodeID[int]
    kind: str = strawberry.field(description="What moved the money, e.g. client_payment.")
    amount: Money = strawberry.field(description="The amount moved.")
    memo: str = strawberry.field(description="The note given with it.")
    actor_label: str = strawberry.field(description="Who did it (a login or a token prefix).")
    created_at: datetime = strawberry.field(description="When it happened (UTC).")
    reverses_id: strawberry.Private[int | None]
    client_id: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, row: models.LedgerEntry) -> LedgerEntry:
        return cls(
            id=row.id,
            kind=row.kind,
            amount=Money.of(row.amount, row.currency),
            memo=row.memo,
            actor_label=row.actor_label,
            created_at=row.created_at,
            reverses_id=row.reverses_id,
            client_id=row.client_id,
        )

    @strawberry.field(description="The payment this entry refunds or reverses, if any.")
    def reverses(self) -> relay.GlobalID | None:
        return (
            None
            if self.reverses_id is None
            else relay.GlobalID("LedgerEntry", str(self.reverses_id))
        )

    @strawberry.field(description="Its postings (not shown to clients); they sum to zero.")
    async def postings(self, info: Info) -> list[Posting]:
        if info.context.actor.client_id is not None:
            return []
        rows = await info.context.loaders.postings.load(self.id)
        return [
            Posting(account=account.key, amount=Money.of(p.amount, p.currency))
            for p, account in rows
        ]

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False):
        from api.domain.payments import get_entry

        return await _resolve_scoped(cls, info, node_ids, get_entry)


@strawberry.type(
    description="A recorded change: who did what, when, and the values before and after."
)
class AuditEvent(relay.Node):
    id: relay.NodeID[int]
    created_at: datetime = strawberry.field(description="When (UTC).")
    actor_type: str = strawberry.field(description="user, token, system or operator.")
    actor_label: str = strawberry.field(description="The login or token prefix that did it.")
    impersonator_label: str | None = strawberry.field(
        default=None,
        description="When the actor was a client's session opened by a reseller owner or the"
        " operator (login as client): that person's login; null otherwise.",
    )
    subject_type: str = strawberry.field(description="What was changed, e.g. client.")
    subject_id: int = strawberry.field(description="The database id of what was changed.")
    action: str = strawberry.field(description="What happened, e.g. client.updated.")
    before: JSON | None = strawberry.field(
        description='Values before the change; money as {"amount": "20.00", "currency": "USD"}.'
    )
    after: JSON | None = strawberry.field(
        description='Values after the change; money as {"amount": "20.00", "currency": "USD"}.'
    )

    @classmethod
    def from_model(cls, row: models.AuditEvent) -> AuditEvent:
        return cls(
            id=row.id,
            created_at=row.created_at,
            actor_type=row.actor_type,
            actor_label=row.actor_label,
            impersonator_label=row.impersonator_label or None,
            subject_type=row.subject_type,
            subject_id=row.subject_id,
            action=row.action,
            before=row.before,
            after=row.after,
        )

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False):
        from api.domain.audit import get_event

        return await _resolve_scoped(cls, info, node_ids, get_event)


@strawberry.type(description="A partner's API token (the secret itself is shown only once).")
class ApiToken(relay.Node):
    id: relay.NodeID[int]
    name: str = strawberry.field(description="What the token is for.")
    prefix: str = strawberry.field(description="The token's first characters, to recognise it.")
    scopes: list[str] = strawberry.field(description="What it may do.")
    created_at: datetime = strawberry.field(description="When it was created (UTC).")
    last_used_at: datetime | None = strawberry.field(description="When it was last used.")
    expires_at: datetime | None = strawberry.field(description="When it stops working.")
    revoked_at: datetime | None = strawberry.field(description="When it was revoked.")

    @classmethod
    def from_model(cls, row: models.ApiToken) -> ApiToken:
        return cls(
            id=row.id,
            name=row.name,
            prefix=row.prefix,
            scopes=row.scopes.split(),
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            expires_at=row.expires_at,
            revoked_at=row.revoked_at,
        )

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False):
        from api.domain.auth import get_api_token

        return await _resolve_scoped(cls, info, node_ids, get_api_token)


@strawberry.type(description="A person who logs in.")
class User:
    email: str = strawberry.field(description="Login email.")
    name: str = strawberry.field(description="Display name.")
    role: str = strawberry.field(description="operator, reseller_owner, reseller_staff or client.")
    last_login_at: datetime | None = strawberry.field(
        default=None, description="When it last logged in (UTC), if ever."
    )
    active: bool = strawberry.field(default=True, description="Whether it may log in.")
    created_at: datetime | None = strawberry.field(
        default=None, description="When it was created (UTC)."
    )
    reseller_id: strawberry.Private[int | None] = None

    @classmethod
    def from_model(cls, row: models.User) -> User:
        return cls(
            email=row.email,
            name=row.name,
            role=row.role,
            last_login_at=row.last_login_at,
            active=row.is_active,
            created_at=row.created_at,
            reseller_id=row.reseller_id,
        )

    @strawberry.field(description="The reseller it works for (its owners and staff), if any.")
    async def reseller(self, info: Info) -> Reseller | None:
        if self.reseller_id is None or self.role not in ("reseller_owner", "reseller_staff"):
            return None
        return Reseller.from_model(await info.context.loaders.reseller.load(self.reseller_id))


@strawberry.type(description="Who is asking, and what they may do.")
class Viewer:
    authenticated: bool = strawberry.field(
        description="Whether a valid session or token was given."
    )
    kind: str = strawberry.field(
        description="anonymous, operator, reseller_user, client_user or api_token."
    )
    permissions: list[str] = strawberry.field(description="What the viewer may do.")
    user: User | None = strawberry.field(description="The logged-in person, if any.")
    reseller: Reseller | None = strawberry.field(description="The viewer's reseller, if any.")
    client: Client | None = strawberry.field(description="The viewer's client, if a client.")
    impersonator: str | None = strawberry.field(
        default=None,
        description="When this is a client's session opened by a reseller owner or the operator"
        " (login as client): that person's login; null otherwise.",
    )
