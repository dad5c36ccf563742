"""The one way a mutation runs: in a transaction, with expected failures turned into the
payload's ``errors`` (and the transaction rolled back, so nothing changes)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry import relay

from api.domain.actors import Actor
from api.domain.errors import DomainError, DomainErrors, ErrorCode, not_found
from api.resolvers.context import Info
from api.schema.common import ErrorCode as GqlErrorCode
from api.schema.common import UserError

P = TypeVar("P")


def user_errors(exc: DomainError | DomainErrors) -> list[UserError]:
    errors = exc.errors if isinstance(exc, DomainErrors) else [exc]
    return [
        UserError(field=e.field, message=e.message, code=GqlErrorCode(e.code.value)) for e in errors
    ]


async def run(
    info: Info,
    payload: type[P],
    action: Callable[[AsyncSession, Actor], Awaitable[dict[str, Any]]],
) -> P:
    """Run ``action`` in one transaction; its dict becomes the payload's fields."""

    async def in_transaction() -> dict[str, Any]:
        async with info.context.write() as session:
            return await action(session, info.context.actor)

    return await attempt(payload, in_transaction())


async def attempt(payload: type[P], work: Awaitable[dict[str, Any]]) -> P:
    """Await domain work that runs its own transactions (a call to an outside service comes
    between them); its dict becomes the payload's fields, expected failures its errors."""
    try:
        fields = await work
    except (DomainError, DomainErrors) as exc:
        return payload(errors=user_errors(exc))  # type: ignore[call-arg]
    return payload(errors=[], **fields)  # type: ignore[call-arg]


def node_pk(gid: relay.GlobalID | None, type_name: str, field: str = "id") -> int | None:
    """The database id behind a global id of the expected type; another type is not found."""
    if gid is None:
        return None
    if gid.type_name != type_name:
        raise not_found(type_name, field)
    try:
        return int(gid.node_id)
    except ValueError:
        raise not_found(type_name, field) from None


def require_authenticated(actor: Actor) -> None:
    if not actor.is_authenticated:
        raise DomainError(ErrorCode.UNAUTHENTICATED, "log in first")
