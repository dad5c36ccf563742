"""Mutation payloads: the changed object plus ``errors`` (empty on success)."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry import relay

from api.schema.common import UserError
from api.schema.types import ApiToken, Client, LedgerEntry, Reseller, User

ERRORS = "Expected failures; when not empty, nothing was changed."


@strawberry.type(description="The result of logging in.")
class LoginPayload:
    errors: list[UserError] = strawberry.field(description=ERRORS)
    token: str | None = strawberry.field(
        default=None, description="The session token: send it as `Authorization: Bearer …`."
    )
    csrf_token: str | None = strawberry.field(
        default=None, description="Send as X-CSRF-Token with cookie-authenticated POSTs."
    )
    expires_at: datetime | None = strawberry.field(default=None, description="Session expiry.")
    user: User | None = strawberry.field(default=None, description="Who logged in.")
    retry_after_seconds: int | None = strawberry.field(
        default=None,
        description="With a THROTTLED error: the seconds to wait before trying again (too many"
        " failed logins for this email or from this address).",
    )


@strawberry.type(description="The result of a password request or change.")
class PasswordPayload:
    errors: list[UserError] = strawberry.field(description=ERRORS)
    ok: bool = strawberry.field(
        default=False,
        description="Whether it was done (a reset request always answers true: it reveals"
        " nothing about the address).",
    )


@strawberry.type(description="The result of logging out.")
class LogoutPayload:
    errors: list[UserError] = strawberry.field(description=ERRORS)
    ok: bool = strawberry.field(default=False, description="Whether a session was ended.")


@strawberry.type(description="A reseller created or changed.")
class ResellerPayload:
    errors: list[UserError] = strawberry.field(description=ERRORS)
    reseller: Reseller | None = strawberry.field(default=None, description="The reseller.")


@strawberry.type(description="A movement of money on a reseller's balance.")
class ResellerMoneyPayload:
    errors: list[UserError] = strawberry.field(description=ERRORS)
    entry: LedgerEntry | None = strawberry.field(default=None, description="The ledger entry.")
    reseller: Reseller | None = strawberry.field(default=None, description="The reseller.")
    replayed: bool = strawberry.field(
        default=False, description="True when this key was seen before and nothing changed."
    )


@strawberry.type(description="A client created or changed.")
class ClientPayload:
    errors: list[UserError] = strawberry.field(description=ERRORS)
    client: Client | None = strawberry.field(default=None, description="The client.")


@strawberry.type(description="Clients created at once.")
class ClientBulkCreatePayload:
    errors: list[UserError] = strawberry.field(description=ERRORS)
    clients: list[Client] = strawberry.field(default_factory=list, description="The clients.")


@strawberry.type(description="A client deleted.")
class ClientDeletePayload:
    errors: list[UserError] = strawberry.field(description=ERRORS)
    deleted_client_id: relay.GlobalID | None = strawberry.field(
        default=None, description="The id of the deleted client."
    )


@strawberry.type(description="A movement of money on a client's balance.")
class ClientMoneyPayload:
    errors: list[UserError] = strawberry.field(description=ERRORS)
    entry: LedgerEntry | None = strawberry.field(default=None, description="The ledger entry.")
    client: Client | None = strawberry.field(default=None, description="The client.")
    replayed: bool = strawberry.field(
        default=False, description="True when this key was seen before and nothing changed."
    )


@strawberry.type(description="A login created.")
class UserPayload:
    errors: list[UserError] = strawberry.field(description=ERRORS)
    user: User | None = strawberry.field(default=None, description="The login.")


@strawberry.type(description="A new API token: copy `token` now, it is never shown again.")
class ApiTokenCreatePayload:
    errors: list[UserError] = strawberry.field(description=ERRORS)
    token: str | None = strawberry.field(default=None, description="The secret token.")
    api_token: ApiToken | None = strawberry.field(default=None, description="Its record.")


@strawberry.type(description="An API token changed.")
class ApiTokenPayload:
    errors: list[UserError] = strawberry.field(description=ERRORS)
    api_token: ApiToken | None = strawberry.field(default=None, description="The token.")
