"""Who calls and call authorization: sub-accounts, A-numbers, PINs, the blacklist, and
``callAuthorize``. Assembled as ``CallersQuery`` / ``CallersMutation`` (bases in schema.py)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from enum import Enum

import strawberry
from strawberry import relay

from api.domain import callers as callers_domain
from api.domain.authorize import Reason
from api.resolvers.context import Info
from api.schema.common import Connection, Money, UserError
from api.schema.types import Client, DidRef, _resolve_scoped

ERRORS = "Expected failures; when not empty, nothing was changed."

SubAccountStatus = strawberry.enum(
    Enum("SubAccountStatus", {s.upper(): s for s in callers_domain.SUB_ACCOUNT_STATUSES}),
    description="Whether a sub-account may call.",
)
CallAuthorizationReason = strawberry.enum(
    Enum("CallAuthorizationReason", {r.name: r.value for r in Reason}),
    description="Why a call is allowed (ACTIVE) or refused.",
)


MICRO = Decimal("0.000001")


def rate_units(value: Decimal | int) -> Decimal:
    """A rate in micros (possibly fractional) as units: six places, more only when exact
    needs them (a marked-up rate may fall between micros)."""
    units = Decimal(value) / 1_000_000
    return units.quantize(MICRO) if units == units.quantize(MICRO) else units.normalize()


def _micros(value: Decimal | int | None, currency: str) -> Money | None:
    return None if value is None else Money(amount=rate_units(value), currency=currency)


@strawberry.type(
    description="A client's SIP account. Its secret is shown only when created or reset."
)
class SubAccount(relay.Node):
    id: relay.NodeID[int]
    username: str = strawberry.field(description="The SIP username, unique on the platform.")
    caller_id: str = strawberry.field(description="The number shown to the called party.")
    forward_to: str = strawberry.field(description="Where incoming calls are forwarded, if set.")
    status: SubAccountStatus = strawberry.field(description="Active or disabled.")
    next_billing_date: date | None = strawberry.field(
        description="When its recurring fees are next billed (read-only here)."
    )
    activation_fee_charged: bool = strawberry.field(
        description="Whether its activation fee was charged (read-only here)."
    )
    created_at: datetime = strawberry.field(description="When it was created (UTC).")
    client_id: strawberry.Private[int]
    package_pk: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, row) -> SubAccount:
        return cls(
            id=row.id,
            username=row.username,
            caller_id=row.caller_id,
            forward_to=row.forward_to,
            status=SubAccountStatus(row.status),
            next_billing_date=row.next_billing_date,
            activation_fee_charged=row.activation_fee_charged,
            created_at=row.created_at,
            client_id=row.client_id,
            package_pk=row.package_id,
        )

    @strawberry.field(
        description="The SIP server (registrar) it registers with (DIALTONE_SIP_SERVER, else "
        "the platform host)."
    )
    def sip_server(self, info: Info) -> str:
        settings = info.context.settings
        return settings.sip_server or settings.platform_host

    @strawberry.field(description="The SIP digest realm of its credentials (DIALTONE_SIP_REALM).")
    def sip_realm(self, info: Info) -> str:
        return info.context.settings.sip_realm

    @strawberry.field(description="The global id of its package (its prices), if any.")
    def package_id(self) -> relay.GlobalID | None:
        return None if self.package_pk is None else relay.GlobalID("Package", str(self.package_pk))

    @strawberry.field(description="The client it belongs to.")
    async def client(self, info: Info) -> Client:
        return Client.from_model(await info.context.loaders.client.load(self.client_id))

    @strawberry.field(description="The phone numbers (DIDs) assigned to it.")
    async def dids(self, info: Info) -> list[DidRef]:
        from api.schema.numbers import dids_of_sub_account

        return await dids_of_sub_account(info, self.id)

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False):
        return await _resolve_scoped(cls, info, node_ids, callers_domain.get_sub_account)


@strawberry.type(description="What a switch needs to provision a sub-account.")
class SubAccountCredentials:
    username: str = strawberry.field(description="The SIP username.")
    secret: str = strawberry.field(description="The plain SIP secret (this read is audited).")
    realm: str = strawberry.field(description="The SIP digest realm of ha1.")
    ha1: str = strawberry.field(description="md5(username:realm:secret), for digest databases.")


@strawberry.type(description="A number or a client the reseller refuses calls for.")
class BlacklistEntry(relay.Node):
    id: relay.NodeID[int]
    number: str | None = strawberry.field(description="The refused number (digits), if any.")
    reason: str = strawberry.field(description="The reason text the switch can play.")
    created_at: datetime = strawberry.field(description="When it was added (UTC).")
    client_pk: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, row) -> BlacklistEntry:
        return cls(
            id=row.id,
            number=row.number,
            reason=row.reason,
            created_at=row.created_at,
            client_pk=row.client_id,
        )

    @strawberry.field(description="The refused client, if the entry is for a client.")
    async def client(self, info: Info) -> Client | None:
        if self.client_pk is None:
            return None
        return Client.from_model(await info.context.loaders.client.load(self.client_pk))

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False):
        return await _resolve_scoped(cls, info, node_ids, callers_domain.get_blacklist_entry)


@strawberry.type(description="The answer to a switch asking whether a call may go through.")
class CallAuthorization:
    allowed: bool = strawberry.field(description="Whether the call may be connected.")
    reason: CallAuthorizationReason = strawberry.field(description="Why (ACTIVE when allowed).")
    message: str = strawberry.field(
        description="A text to play when refused (e.g. the blacklist reason)."
    )
    max_seconds: int = strawberry.field(
        description="The longest the call may last, in seconds (0 when refused)."
    )
    destination: str = strawberry.field(description="The dialled number, normalized to digits.")
    matched_prefix: str = strawberry.field(description="The deck prefix that matched.")
    destination_name: str = strawberry.field(description="The matched destination's name.")
    cost_rate: Money | None = strawberry.field(
        description="What the reseller pays per minute (the base deck)."
    )
    cost_connection_fee: Money | None = strawberry.field(description="Its cost per call.")
    cost_first_increment: int | None = strawberry.field(description="Cost first increment (s).")
    cost_increment: int | None = strawberry.field(description="Cost increment (s).")
    sell_rate: Money | None = strawberry.field(description="What the client pays per minute.")
    sell_connection_fee: Money | None = strawberry.field(description="Its price per call.")
    sell_first_increment: int | None = strawberry.field(description="Sell first increment (s).")
    sell_increment: int | None = strawberry.field(description="Sell increment (s).")
    rule: str = strawberry.field(
        description="What set the sell price: prefix, country, nanpa, markup, base or personal."
    )
    client_pk: strawberry.Private[int | None]
    sub_account_pk: strawberry.Private[int | None]

    @strawberry.field(description="The calling client, when known.")
    async def client(self, info: Info) -> Client | None:
        if self.client_pk is None:
            return None
        return Client.from_model(await info.context.loaders.client.load(self.client_pk))

    @strawberry.field(description="The calling sub-account, when it called as one.")
    def sub_account_id(self) -> relay.GlobalID | None:
        if self.sub_account_pk is None:
            return None
        return relay.GlobalID("SubAccount", str(self.sub_account_pk))

    @classmethod
    def from_decision(cls, d) -> CallAuthorization:
        cur = d.currency
        return cls(
            allowed=d.allowed,
            reason=CallAuthorizationReason(d.reason.value),
            message=d.message,
            max_seconds=d.max_seconds,
            destination=d.destination,
            matched_prefix=d.prefix,
            destination_name=d.destination_name,
            cost_rate=_micros(d.cost_rate, cur),
            cost_connection_fee=_micros(d.cost_connection_fee, cur),
            cost_first_increment=d.cost_first_increment,
            cost_increment=d.cost_increment,
            sell_rate=_micros(d.sell_rate, cur),
            sell_connection_fee=_micros(d.sell_connection_fee, cur),
            sell_first_increment=d.sell_first_increment,
            sell_increment=d.sell_increment,
            rule=d.rule,
            client_pk=d.client_id,
            sub_account_pk=d.sub_account_id,
        )


# --- inputs ------------------------------------------------------------------------------------


@strawberry.input(description="A sub-account's settable fields; omitted ones stay as they are.")
class SubAccountFieldsInput:
    caller_id: str | None = strawberry.field(default=None, description="Caller ID number.")
    package_id: relay.GlobalID | None = strawberry.field(
        default=None, description="Its package (one of the reseller's)."
    )
    forward_to: str | None = strawberry.field(
        default=None, description="Forward incoming calls to this number (empty: none)."
    )
    status: SubAccountStatus | None = strawberry.field(
        default=None, description="Active (the default for a new one) or disabled."
    )


@strawberry.input(description="A new SIP account of a client; its secret is generated.")
class SubAccountCreateInput(SubAccountFieldsInput):
    client_id: relay.GlobalID = strawberry.field(description="The client.")
    username: str = strawberry.field(
        description="SIP username: 3-64 letters, digits, dot, dash, underscore; unique."
    )


@strawberry.input(description="Changes to a sub-account (the username cannot change).")
class SubAccountUpdateInput(SubAccountFieldsInput):
    id: relay.GlobalID = strawberry.field(description="The sub-account.")


@strawberry.input(description="A sub-account's caller ID, one of the numbers its client holds.")
class SubAccountCallerIdSetInput:
    id: relay.GlobalID = strawberry.field(description="The sub-account.")
    caller_id: str = strawberry.field(
        description="One of the client's numbers (its DIDs, or the numbers its reseller "
        "registered for it); empty clears it."
    )


@strawberry.input(description="A sub-account to act on.")
class SubAccountIdInput:
    id: relay.GlobalID = strawberry.field(description="The sub-account.")


@strawberry.input(description="The numbers a client calls from, replacing the current ones.")
class ClientNumbersSetInput:
    client_id: relay.GlobalID = strawberry.field(description="The client.")
    numbers: list[str] = strawberry.field(
        description="Phone numbers (A-numbers), unique on the platform; empty clears them."
    )


@strawberry.input(description="A client's PIN for calls from unlisted numbers.")
class ClientPinSetInput:
    client_id: relay.GlobalID = strawberry.field(description="The client.")
    pin: str = strawberry.field(description="4 to 12 digits; only a keyed digest is stored.")


@strawberry.input(description="A client whose PIN is removed.")
class ClientPinClearInput:
    client_id: relay.GlobalID = strawberry.field(description="The client.")


@strawberry.input(description="A number or a client to refuse calls for; give one of them.")
class BlacklistAddInput:
    number: str | None = strawberry.field(
        default=None, description="A number refused as destination or as caller."
    )
    client_id: relay.GlobalID | None = strawberry.field(
        default=None, description="A client whose calls are all refused."
    )
    reason: str | None = strawberry.field(
        default=None, description="A reason text the switch can play."
    )
    reseller_id: relay.GlobalID | None = strawberry.field(
        default=None, description="The reseller whose list it is (operator only)."
    )


@strawberry.input(description="A blacklist entry to remove.")
class BlacklistRemoveInput:
    id: relay.GlobalID = strawberry.field(description="The entry.")


# --- payloads ----------------------------------------------------------------------------------


@strawberry.type(description="A sub-account created or changed.")
class SubAccountPayload:
    errors: list[UserError] = strawberry.field(description=ERRORS)
    sub_account: SubAccount | None = strawberry.field(default=None, description="The account.")
    secret: str | None = strawberry.field(
        default=None,
        description="Its new SIP secret, shown only in this response (create and reset).",
    )


@strawberry.type(description="A sub-account deleted.")
class SubAccountDeletePayload:
    errors: list[UserError] = strawberry.field(description=ERRORS)
    deleted_sub_account_id: relay.GlobalID | None = strawberry.field(
        default=None, description="The id of the deleted sub-account."
    )


@strawberry.type(description="A client's A-numbers after the change.")
class ClientNumbersPayload:
    errors: list[UserError] = strawberry.field(description=ERRORS)
    client: Client | None = strawberry.field(default=None, description="The client.")
    numbers: list[str] | None = strawberry.field(default=None, description="Its numbers now.")


@strawberry.type(description="A client's PIN set or cleared.")
class ClientPinPayload:
    errors: list[UserError] = strawberry.field(description=ERRORS)
    client: Client | None = strawberry.field(default=None, description="The client.")


@strawberry.type(description="A blacklist entry added.")
class BlacklistEntryPayload:
    errors: list[UserError] = strawberry.field(description=ERRORS)
    entry: BlacklistEntry | None = strawberry.field(default=None, description="The entry.")


@strawberry.type(description="A blacklist entry removed.")
class BlacklistRemovePayload:
    errors: list[UserError] = strawberry.field(description=ERRORS)
    deleted_blacklist_entry_id: relay.GlobalID | None = strawberry.field(
        default=None, description="The id of the removed entry."
    )


# --- root fields -------------------------------------------------------------------------------

from api.resolvers import callers as r  # noqa: E402  (resolvers use the types above)


@strawberry.type(description="Reads of who calls, and call authorization.")
class CallersQuery:
    sub_accounts: Connection[SubAccount] = strawberry.field(
        resolver=r.sub_accounts, description="Sub-accounts the viewer may see, or one client's."
    )
    sub_account_secret: SubAccountCredentials | None = strawberry.field(
        resolver=r.sub_account_secret,
        description="A sub-account's plain secret to provision a switch (operator, reseller "
        "owner or calls:write token; audited); null if not visible.",
    )
    blacklist: Connection[BlacklistEntry] = strawberry.field(
        resolver=r.blacklist, description="The reseller's refused numbers and clients."
    )
    call_authorize: CallAuthorization = strawberry.field(
        resolver=r.call_authorize,
        description="May this call go through, and for how long? (calls:write or operator)",
    )


@strawberry.type(description="Changes of who calls.")
class CallersMutation:
    sub_account_create: SubAccountPayload = strawberry.mutation(
        resolver=r.sub_account_create,
        description="Create a SIP account for a client; its secret is returned once.",
    )
    sub_account_update: SubAccountPayload = strawberry.mutation(
        resolver=r.sub_account_update, description="Change a sub-account."
    )
    sub_account_caller_id_set: SubAccountPayload = strawberry.mutation(
        resolver=r.sub_account_caller_id_set,
        description=(
            "Set a sub-account's caller ID to one of the numbers its client holds: the "
            "reseller (clients:write), or the client for its own sub-accounts."
        ),
    )
    sub_account_secret_reset: SubAccountPayload = strawberry.mutation(
        resolver=r.sub_account_secret_reset,
        description=(
            "Give a sub-account a new secret, returned once: the reseller (clients:write), "
            "or the client for its own sub-accounts."
        ),
    )
    sub_account_delete: SubAccountDeletePayload = strawberry.mutation(
        resolver=r.sub_account_delete,
        description="Delete a sub-account without calls (disable one with calls).",
    )
    client_numbers_set: ClientNumbersPayload = strawberry.mutation(
        resolver=r.client_numbers_set,
        description="Set the numbers a client calls from (replaces them).",
    )
    client_pin_set: ClientPinPayload = strawberry.mutation(
        resolver=r.client_pin_set, description="Set a client's PIN for unlisted numbers."
    )
    client_pin_clear: ClientPinPayload = strawberry.mutation(
        resolver=r.client_pin_clear, description="Remove a client's PIN."
    )
    blacklist_add: BlacklistEntryPayload = strawberry.mutation(
        resolver=r.blacklist_add, description="Refuse calls for a number or a client."
    )
    blacklist_remove: BlacklistRemovePayload = strawberry.mutation(
        resolver=r.blacklist_remove, description="Remove a blacklist entry."
    )
