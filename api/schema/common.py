"""Shared GraphQL types: money, errors, connections."""

from __future__ import annotations

from decimal import Decimal
from enum import Enum
from typing import Annotated, Generic, TypeVar

import strawberry

from api import money
from api.domain.errors import ErrorCode as DomainErrorCode
from api.domain.reports import minutes

ErrorCode = strawberry.enum(
    Enum("ErrorCode", {code.name: code.value for code in DomainErrorCode}),
    description="Why a mutation did not do what was asked.",
)


@strawberry.type(description="An expected failure of a mutation; nothing was changed.")
class UserError:
    field: str | None = strawberry.field(
        description="The input field at fault (camelCase), when one is."
    )
    message: str = strawberry.field(description="What went wrong, in plain words.")
    code: ErrorCode = strawberry.field(description="A stable code to branch on.")


@strawberry.type(description="An amount of money: an exact decimal and its currency.")
class Money:
    amount: Decimal = strawberry.field(description="The amount, exact to the micro-unit.")
    currency: str = strawberry.field(description="ISO 4217 currency code.")

    @classmethod
    def of(cls, micros: int, currency: str) -> Money:
        return cls(amount=money.to_decimal(micros), currency=currency)


@strawberry.type(description="Where a page of a connection stands.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="Whether more items follow this page.")
    has_previous_page: bool = strawberry.field(
        description="Whether items come before this page (an `after` cursor was given)."
    )
    start_cursor: str | None = strawberry.field(description="The cursor of the first item.")
    end_cursor: str | None = strawberry.field(
        description="The cursor of the last item: pass it as `after` for the next page."
    )


T = TypeVar("T")


@strawberry.type(description="One item of a connection and its cursor.")
class Edge(Generic[T]):
    node: T = strawberry.field(description="The item.")
    cursor: str = strawberry.field(description="An opaque cursor for this item.")


@strawberry.type(description="A page of items, paginated with opaque cursors (keyset).")
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="The items of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page stands.")

    @strawberry.field(description="The items of this page, without cursors.")
    def nodes(self) -> list[T]:
        return [edge.node for edge in self.edges]


def timestamp_description(what: str) -> str:
    return f"When {what} (UTC, ISO 8601)."


# Arguments shared by every list and mutation, with their descriptions.
First = Annotated[
    int | None, strawberry.argument(description="How many items, at most 500 (default 50).")
]
After = Annotated[
    str | None, strawberry.argument(description="Start after this cursor (pageInfo.endCursor).")
]
INPUT = strawberry.argument(description="What to do; see the input type.")


def described(text: str) -> object:
    """An argument description, for ``Annotated[type, described("...")]``."""
    return strawberry.argument(description=text)


@strawberry.type(description="Time that calls were answered.")
class AnsweredTime:
    """The answered time of a set of calls: every report counts the seconds a call was
    answered (``billsec``, as the switch reported them), not the seconds billed (rounded up to
    the package's increments, ``Call.sellBilledSeconds``)."""

    answered_seconds: int = strawberry.field(
        description="Seconds answered, summed (the switch's billsec; not rounded up to billing "
        "increments)."
    )

    @strawberry.field(description="Minutes answered (answeredSeconds / 60, 2 places).")
    def answered_minutes(self) -> Decimal:
        return minutes(self.answered_seconds)

    @strawberry.field(
        description="Seconds answered, summed.", deprecation_reason="Use answeredSeconds."
    )
    def seconds(self) -> int:
        return self.answered_seconds

    @strawberry.field(
        description="Minutes answered (seconds / 60, 2 places).",
        deprecation_reason="Use answeredMinutes.",
    )
    def minutes(self) -> Decimal:
        return minutes(self.answered_seconds)
