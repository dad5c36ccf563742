"""Assembles the schema: every query and mutation, with its limits and error masking."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

import strawberry
from graphql import GraphQLError
from strawberry import relay
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.schema.types.base_scalars import DateTimeDefinition, DecimalDefinition

from api import money
from api.domain.errors import DomainError
from api.resolvers import audit, auth, clients, payments, resellers
from api.resolvers.context import Info
from api.schema.brands import BrandsMutation, BrandsQuery
from api.schema.callers import CallersMutation, CallersQuery
from api.schema.calls import CallsMutation, CallsQuery
from api.schema.common import Connection
from api.schema.fees import FeesMutation, FeesQuery
from api.schema.financials import FinancialsQuery
from api.schema.invoices import InvoicesMutation, InvoicesQuery
from api.schema.notifications import NotificationsMutation, NotificationsQuery
from api.schema.numbers import NumbersMutation, NumbersQuery
from api.schema.payloads import (
    ApiTokenCreatePayload,
    ApiTokenPayload,
    ClientBulkCreatePayload,
    ClientDeletePayload,
    ClientMoneyPayload,
    ClientPayload,
    LoginPayload,
    LogoutPayload,
    PasswordPayload,
    ResellerMoneyPayload,
    ResellerPayload,
    UserPayload,
)
from api.schema.paypal_checkout import PaypalCheckoutMutation, PaypalCheckoutQuery
from api.schema.paypal_ipn import PaypalIpnQuery
from api.schema.rates import RatesMutation, RatesQuery
from api.schema.types import ApiToken, AuditEvent, Client, LedgerEntry, Reseller, User, Viewer
from api.settings import Settings


async def node(
    info: Info, id: Annotated[relay.GlobalID, strawberry.argument(description="A global id.")]
) -> relay.Node | None:
    try:
        return await id.resolve_node(info, required=False)
    except (KeyError, ValueError, DomainError):  # unknown type name or malformed id
        return None


@strawberry.type(description="Reads of the foundation: viewer, tenants, money, audit, tokens.")
class FoundationQuery:
    node: relay.Node | None = strawberry.field(
        resolver=node, description="Any object by its global id; null if not visible."
    )
    viewer: Viewer = strawberry.field(resolver=auth.viewer, description="Who is asking.")
    resellers: Connection[Reseller] = strawberry.field(
        resolver=resellers.resellers, description="Resellers: all (operator) or your own."
    )
    clients: Connection[Client] = strawberry.field(
        resolver=clients.clients, description="Clients the viewer may see, with filters."
    )
    ledger_entries: Connection[LedgerEntry] = strawberry.field(
        resolver=payments.ledger_entries, description="Money movements, newest first."
    )
    audit_events: Connection[AuditEvent] = strawberry.field(
        resolver=audit.audit_events, description="The audit history, newest first."
    )
    users: Connection[User] = strawberry.field(
        resolver=auth.users,
        description="Logins: every one (operator), or your reseller's owners and staff.",
    )
    api_tokens: Connection[ApiToken] = strawberry.field(
        resolver=auth.api_tokens, description="The reseller's API tokens (owner only)."
    )


@strawberry.type(description="Changes of the foundation: logins, tenants, money, tokens.")
class FoundationMutation:
    login: LoginPayload = strawberry.mutation(
        resolver=auth.login, description="Log in: a session token, also set as a cookie."
    )
    logout: LogoutPayload = strawberry.mutation(
        resolver=auth.logout, description="End the current session."
    )
    client_impersonate: LoginPayload = strawberry.mutation(
        resolver=auth.client_impersonate,
        description="Log in as a client (a reseller owner or the operator): a session of the"
        " client's portal login, for at most an hour, that may not change the client's password"
        " or users; every action taken with it is audited with both. No cookie is set: the"
        " portal keeps it beside your own session.",
    )
    password_reset_request: PasswordPayload = strawberry.mutation(
        resolver=auth.password_reset_request,
        description="Forgot password: email a reset link to a client login of this host's"
        " reseller (the answer is the same for any address).",
    )
    password_reset: PasswordPayload = strawberry.mutation(
        resolver=auth.password_reset,
        description="Set a new password with a reset link's token (once, before it expires);"
        " every session of the user ends.",
    )
    password_change: PasswordPayload = strawberry.mutation(
        resolver=auth.password_change,
        description="Change the signed-in user's own password (the current one required);"
        " its other sessions end.",
    )
    user_create: UserPayload = strawberry.mutation(
        resolver=auth.user_create, description="Create a login (reseller staff, client portal)."
    )
    api_token_create: ApiTokenCreatePayload = strawberry.mutation(
        resolver=auth.api_token_create, description="Create a scoped API token (owner only)."
    )
    api_token_revoke: ApiTokenPayload = strawberry.mutation(
        resolver=auth.api_token_revoke, description="Revoke an API token at once."
    )
    reseller_create: ResellerPayload = strawberry.mutation(
        resolver=resellers.reseller_create, description="Create a reseller (operator)."
    )
    reseller_update: ResellerPayload = strawberry.mutation(
        resolver=resellers.reseller_update, description="Change a reseller (operator)."
    )
    reseller_deposit: ResellerMoneyPayload = strawberry.mutation(
        resolver=resellers.reseller_deposit,
        description="Add money a reseller paid to its balance (operator).",
    )
    reseller_adjust: ResellerMoneyPayload = strawberry.mutation(
        resolver=resellers.reseller_adjust,
        description="Correct a reseller's balance up or down, with a reason (operator).",
    )
    client_create: ClientPayload = strawberry.mutation(
        resolver=clients.client_create, description="Create a client."
    )
    client_bulk_create: ClientBulkCreatePayload = strawberry.mutation(
        resolver=clients.client_bulk_create,
        description="Create many clients at once (an operator's order is at least 10).",
    )
    client_update: ClientPayload = strawberry.mutation(
        resolver=clients.client_update, description="Change a client."
    )
    client_profile_update: ClientPayload = strawberry.mutation(
        resolver=clients.client_profile_update,
        description="A client's portal user changes its own client's contact details, language"
        " and low-balance threshold.",
    )
    client_delete: ClientDeletePayload = strawberry.mutation(
        resolver=clients.client_delete,
        description="Delete a client with no balance, sub-accounts or numbers left.",
    )
    client_transfer: ClientMoneyPayload = strawberry.mutation(
        resolver=payments.client_transfer,
        description="Move credit from the reseller's balance to a client.",
    )
    client_payment_record: ClientMoneyPayload = strawberry.mutation(
        resolver=payments.client_payment_record,
        description="Record a payment a client made by hand (cash, bank transfer).",
    )
    client_charge: ClientMoneyPayload = strawberry.mutation(
        resolver=payments.client_charge, description="Charge a client by hand, with a reason."
    )
    client_refund: ClientMoneyPayload = strawberry.mutation(
        resolver=payments.client_refund,
        description="Pay money back to a client (a refund of a payment, or a withdrawal).",
    )


# Each area adds its own Query/Mutation class to these bases.
@strawberry.type(description="Everything that can be read. Lists are scoped to the viewer.")
class Query(
    FoundationQuery,
    CallersQuery,
    CallsQuery,
    RatesQuery,
    BrandsQuery,
    PaypalIpnQuery,
    PaypalCheckoutQuery,
    NotificationsQuery,
    NumbersQuery,
    FeesQuery,
    InvoicesQuery,
    FinancialsQuery,
):
    pass


@strawberry.type(description="Everything that can be changed.")
class Mutation(
    FoundationMutation,
    CallersMutation,
    CallsMutation,
    RatesMutation,
    BrandsMutation,
    PaypalCheckoutMutation,
    NotificationsMutation,
    NumbersMutation,
    FeesMutation,
    InvoicesMutation,
):
    pass


def _should_mask(error: GraphQLError) -> bool:
    """Hide unexpected errors; show GraphQL's own (a variable's invalid value wraps the
    GraphQL error that says why) and our expected ones."""
    original = error.original_error
    return original is not None and not isinstance(original, DomainError | GraphQLError)


def _read_datetime(value: object) -> object:
    """ISO 8601 read by the standard library (a thirtieth of dateutil's time: a batch of
    calls has a thousand); what it cannot read (``24:00``, ordinal dates, ...) goes to
    strawberry's own parser, which also words the errors."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    return DateTimeDefinition.parse_value(value)


DateTime = strawberry.scalar(
    name=DateTimeDefinition.name,
    description=DateTimeDefinition.description,
    serialize=DateTimeDefinition.serialize,
    parse_value=_read_datetime,
)


def _read_decimal(value: object) -> Decimal:
    """A Decimal spelt as a person writes one (``money.DECIMAL_TEXT``): Python's Decimal would
    also read ``1_0`` as ten, ``1e3``, ``NaN`` and other scripts' digits."""
    read = None if isinstance(value, bool | float) else money.read_decimal(value)
    if read is None:
        raise StrawberryInputCoercionError(
            f'Value cannot represent a Decimal: "{value}". Expected a string of digits with an '
            'optional minus and decimal point, such as "-12.50".'
        )
    return read


DecimalScalar = strawberry.scalar(
    name=DecimalDefinition.name,
    description=DecimalDefinition.description,
    serialize=DecimalDefinition.serialize,
    parse_value=_read_decimal,
)


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    settings = settings or Settings()
    # The limits' rules are made once: each limiter makes new rule classes, and the
    # validation cache is keyed by the rules, so a limiter per request would miss it.
    limits = [
        *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
    ]
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        scalar_overrides={datetime: DateTime, Decimal: DecimalScalar},
        extensions=[
            lambda: AddValidationRules(limits),
            lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
            lambda: MaskErrors(should_mask_error=_should_mask),
            # the same documents come again and again: parse and validate each one once
            lambda: ParserCache(maxsize=256),
            lambda: ValidationCache(maxsize=256),
        ],
    )


schema = build_schema()
