"""Mutation inputs. Money is a decimal string (e.g. "12.50"); ids are global ids."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import strawberry
from strawberry import relay

from api.schema.types import (
    BillingMode,
    BillingModel,
    Characteristic,
    ClientStatus,
    ResellerStatus,
)

Role = strawberry.enum(
    Enum(
        "Role",
        {r.upper(): r for r in ("operator", "reseller_owner", "reseller_staff", "client")},
    ),
    description="What a login is for.",
)


def domain_fields(value: Any, *, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """The given (non-null) fields of an input as a plain dict for the domain."""
    out = {}
    for f in dataclasses.fields(value):
        item = getattr(value, f.name)
        if f.name in exclude or item is None or item is strawberry.UNSET:
            continue
        out[f.name] = item.value if isinstance(item, Enum) else item
    return out


@strawberry.input(description="A new reseller and, optionally, its owner's login.")
class ResellerCreateInput:
    name: str = strawberry.field(description="The reseller's name.")
    currency: str = strawberry.field(description="ISO 4217 code of its balance, e.g. USD.")
    billing_model: BillingModel = strawberry.field(description="Markup or commission.")
    timezone: str | None = strawberry.field(default=None, description="IANA zone, default UTC.")
    home_country: str | None = strawberry.field(
        default=None,
        description=(
            "The country its switches dial from (ISO 3166 two-letter code, e.g. GB; empty for "
            "none): national numbers and that country's exit code are read by its dial plan."
        ),
    )
    commission_pct: Decimal | None = strawberry.field(
        default=None, description="Commission percent (commission model), 0 to 100."
    )
    low_balance_threshold: Decimal | None = strawberry.field(
        default=None, description="Warn under this balance."
    )
    owner_email: str | None = strawberry.field(default=None, description="Owner's login email.")
    owner_password: str | None = strawberry.field(
        default=None, description="Owner's password (8+ characters)."
    )
    owner_name: str | None = strawberry.field(default=None, description="Owner's display name.")


@strawberry.input(description="Changes to a reseller; omitted fields stay as they are.")
class ResellerUpdateInput:
    id: relay.GlobalID = strawberry.field(description="The reseller.")
    name: str | None = strawberry.field(default=None, description="New name.")
    timezone: str | None = strawberry.field(default=None, description="New time zone.")
    home_country: str | None = strawberry.field(
        default=None,
        description=(
            "The country its switches dial from (ISO 3166 two-letter code, e.g. GB; empty for "
            "none): national numbers and that country's exit code are read by its dial plan."
        ),
    )
    billing_model: BillingModel | None = strawberry.field(default=None, description="New model.")
    commission_pct: Decimal | None = strawberry.field(default=None, description="New percent.")
    status: ResellerStatus | None = strawberry.field(default=None, description="New status.")
    status_reason: str | None = strawberry.field(default=None, description="Why.")
    low_balance_threshold: Decimal | None = strawberry.field(
        default=None, description="New low-balance threshold."
    )


@strawberry.input(description="Money into or out of a reseller's balance, by the operator.")
class ResellerMoneyInput:
    reseller_id: relay.GlobalID = strawberry.field(description="The reseller.")
    amount: Decimal = strawberry.field(
        description="The amount; for an adjustment, negative takes money away."
    )
    idempotency_key: str = strawberry.field(
        description="Your unique key for this request: repeating it changes nothing."
    )
    memo: str | None = strawberry.field(default=None, description="A note (required to adjust).")


@strawberry.input(description="A client's fields; omitted fields keep their defaults or values.")
class ClientFieldsInput:
    name: str | None = strawberry.field(default=None, description="Name (required to create).")
    company: str | None = strawberry.field(default=None, description="Company name.")
    contact_name: str | None = strawberry.field(default=None, description="Contact person.")
    email: str | None = strawberry.field(default=None, description="Contact email.")
    phone: str | None = strawberry.field(default=None, description="Contact phone.")
    language: str | None = strawberry.field(default=None, description="Language code, e.g. en.")
    country: str | None = strawberry.field(default=None, description="ISO country code.")
    notes: str | None = strawberry.field(default=None, description="Notes.")
    characteristic: Characteristic | None = strawberry.field(
        default=None, description="Normal, good or conflict."
    )
    label: str | None = strawberry.field(default=None, description="A free label.")
    billing_mode: BillingMode | None = strawberry.field(default=None, description="How it pays.")
    credit_limit: Decimal | None = strawberry.field(
        default=None, description="Postpaid credit limit."
    )
    low_balance_threshold: Decimal | None = strawberry.field(
        default=None, description="Warn under this balance."
    )


@strawberry.input(description="What a client's portal user may change of its own client.")
class ClientProfileUpdateInput:
    contact_name: str | None = strawberry.field(default=None, description="Contact person.")
    email: str | None = strawberry.field(default=None, description="Contact email.")
    phone: str | None = strawberry.field(default=None, description="Contact phone.")
    language: str | None = strawberry.field(
        default=None, description="The client's language (en, fr, ru, he…): its portal and emails."
    )
    low_balance_threshold: Decimal | None = strawberry.field(
        default=None, description="Warn under this balance (0: never)."
    )


@strawberry.input(description="A new client.")
class ClientCreateInput(ClientFieldsInput):
    reseller_id: relay.GlobalID | None = strawberry.field(
        default=None, description="The reseller (the operator must say; a reseller need not)."
    )


@strawberry.input(description="Many new clients at once: all are created, or none.")
class ClientBulkCreateInput:
    clients: list[ClientFieldsInput] = strawberry.field(description="The clients, 1 to 1,000.")
    reseller_id: relay.GlobalID | None = strawberry.field(
        default=None, description="The reseller (the operator must say; a reseller need not)."
    )


@strawberry.input(description="Changes to a client; omitted fields stay as they are.")
class ClientUpdateInput(ClientFieldsInput):
    id: relay.GlobalID = strawberry.field(description="The client.")
    status: ClientStatus | None = strawberry.field(default=None, description="New status.")
    status_reason: str | None = strawberry.field(
        default=None, description="Why (required unless active)."
    )


@strawberry.input(description="Names one object.")
class IdInput:
    id: relay.GlobalID = strawberry.field(description="The object.")


@strawberry.input(description="Money into or out of a client's balance.")
class ClientMoneyInput:
    client_id: relay.GlobalID = strawberry.field(description="The client.")
    amount: Decimal = strawberry.field(description="The amount, greater than zero.")
    idempotency_key: str = strawberry.field(
        description="Your unique key for this request: repeating it changes nothing."
    )
    memo: str | None = strawberry.field(default=None, description="A note (required to charge).")


@strawberry.input(description="Money paid back to a client.")
class ClientRefundInput(ClientMoneyInput):
    payment_id: relay.GlobalID | None = strawberry.field(
        default=None, description="The payment refunded; the refund cannot exceed what is left."
    )


@strawberry.input(description="A new login.")
class UserCreateInput:
    email: str = strawberry.field(description="Login email.")
    password: str = strawberry.field(description="Password, 8+ characters.")
    role: Role = strawberry.field(description="What the login is for.")
    name: str | None = strawberry.field(default=None, description="Display name.")
    reseller_id: relay.GlobalID | None = strawberry.field(
        default=None, description="The reseller of a reseller login."
    )
    client_id: relay.GlobalID | None = strawberry.field(
        default=None, description="The client of a client login."
    )


@strawberry.input(description="A new API token for a partner.")
class ApiTokenCreateInput:
    name: str = strawberry.field(description="What the token is for.")
    scopes: list[str] = strawberry.field(description="What it may do, e.g. clients:read.")
    expires_at: datetime | None = strawberry.field(
        default=None, description="When it stops working (never, if omitted)."
    )
