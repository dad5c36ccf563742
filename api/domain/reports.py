"""Reports over calls: the scoped, filtered list (keyset paginated) and its totals.

Who sees which calls: the operator (``reports:read``) every call; a reseller user or API token
with ``reports:read`` the calls of its reseller; a client user its own calls, sell side only
(never the reseller's cost or profit). Naming another tenant's client or sub-account is
"not found".

Pagination is keyset on ``(started_at, id)``, newest first (index ``ix_calls_client_started`` /
``ix_calls_reseller_started``), never OFFSET.

Totals (count, answered seconds, cost, sell; profit = sell - cost) come from the rollups
``call_rollups`` when the filter is only reseller / client, direction, and a period made of
whole UTC days (``from``/``to`` at midnight, or open); any other filter (sub-account,
disposition, destination prefix, number, a time inside a day) aggregates the filtered calls.
Both give the same figures: rollups are written in the transaction that stores the calls.
Seconds are **answered** seconds (``calls.billsec``, as the switch reported them), never the
billed seconds rounded up to the package's increments (``sell_billed`` per call).
One row per currency (only the operator, across resellers, may see more than one). Totals per
UTC day (``daily_totals``, the portal's chart) are read from the rollups only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, false, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from api.domain.actors import Actor
from api.domain.cdr_formats import DIRECTIONS, DISPOSITIONS
from api.domain.errors import invalid, not_found
from api.models import Call, CallRollup, Client, Reseller, SubAccount

MAX_FILTER_TEXT = 40
MAX_DAILY_DAYS = 366  # the longest period totals per day are given for


@dataclass(frozen=True)
class CallFilter:
    reseller_id: int | None = None
    client_id: int | None = None
    sub_account_id: int | None = None
    started_from: datetime | None = None  # inclusive
    started_to: datetime | None = None  # exclusive
    direction: str | None = None
    disposition: str | None = None
    prefix: str | None = None
    number: str | None = None


@dataclass(frozen=True)
class Totals:
    currency: str
    calls: int
    seconds: int
    cost: int
    sell: int
    from_rollups: bool

    @property
    def profit(self) -> int:
        return self.sell - self.cost

    @property
    def minutes(self) -> Decimal:
        return minutes(self.seconds)


def minutes(seconds: int) -> Decimal:
    """Seconds as minutes, to 2 places: how every report shows its minutes."""
    return (Decimal(seconds) / 60).quantize(Decimal("0.01"))


def shows_cost(actor: Actor) -> bool:
    """Whether the viewer may see the cost side (everyone who reads calls but a client)."""
    return actor.client_id is None


def _can_read(actor: Actor) -> bool:
    if actor.client_id is not None:
        return actor.is_authenticated
    return actor.is_authenticated and actor.can("reports:read")


async def scoped_filter(session: AsyncSession, actor: Actor, f: CallFilter) -> CallFilter:
    """The filter checked and narrowed to what the actor may see (raises not found / invalid)."""
    if f.direction is not None and f.direction not in DIRECTIONS:
        raise invalid("direction", "the direction is outbound or inbound")
    if f.disposition is not None and f.disposition not in DISPOSITIONS:
        raise invalid("disposition", "unknown disposition")
    for name, value in (("destinationPrefix", f.prefix), ("number", f.number)):
        if value is not None and (len(value) > MAX_FILTER_TEXT or not value.isprintable()):
            raise invalid(name, f"at most {MAX_FILTER_TEXT} printable characters")
    f = replace(f, started_from=_utc(f.started_from), started_to=_utc(f.started_to))
    if f.started_from and f.started_to and f.started_to <= f.started_from:
        raise invalid("to", "the end of the period must come after its start")
    if f.prefix is not None:
        f = replace(f, prefix="".join(ch for ch in f.prefix if ch.isdigit()) or None)
    if f.reseller_id is not None and not actor.sees_reseller(f.reseller_id):
        raise not_found("reseller", "resellerId")
    if f.client_id is not None:
        client = await session.get(Client, f.client_id)
        if client is None or not _sees_client(actor, client.id, client.reseller_id):
            raise not_found("client", "clientId")
    if f.sub_account_id is not None:
        sub = await session.get(SubAccount, f.sub_account_id)
        if sub is None or not _sees_client(actor, sub.client_id, sub.reseller_id):
            raise not_found("sub-account", "subAccountId")
        if f.client_id is None:  # its calls are read through its client's index
            f = replace(f, client_id=sub.client_id)
    if actor.client_id is not None:
        f = replace(f, client_id=actor.client_id)
    elif not actor.is_operator:
        f = replace(f, reseller_id=actor.reseller_id)
    return f


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _sees_client(actor: Actor, client_id: int, reseller_id: int) -> bool:
    if actor.client_id is not None:
        return actor.client_id == client_id
    return actor.sees_reseller(reseller_id)


def calls_query(actor: Actor, f: CallFilter) -> Select:
    """The calls of a (scoped) filter, unordered."""
    stmt = select(Call)
    if not _can_read(actor):
        return stmt.where(false())
    return stmt.where(*_conditions(f))


def _conditions(f: CallFilter) -> list:
    out = []
    if f.client_id is not None:
        out.append(Call.client_id == f.client_id)
    if f.reseller_id is not None:
        out.append(Call.reseller_id == f.reseller_id)
    if f.sub_account_id is not None:
        out.append(Call.sub_account_id == f.sub_account_id)
    if f.started_from is not None:
        out.append(Call.started_at >= f.started_from)
    if f.started_to is not None:
        out.append(Call.started_at < f.started_to)
    if f.direction is not None:
        out.append(Call.direction == f.direction)
    if f.disposition is not None:
        out.append(Call.disposition == f.disposition)
    if f.prefix:
        out.append(Call.destination.startswith(f.prefix, autoescape=True))
    if f.number:
        out.append(
            Call.a_number.contains(f.number, autoescape=True)
            | Call.destination.contains(f.number, autoescape=True)
        )
    return out


async def calls_page(
    session: AsyncSession,
    actor: Actor,
    f: CallFilter,
    *,
    size: int,
    after: tuple[datetime, int] | None = None,
    before: tuple[datetime, int] | None = None,
) -> tuple[list[Call], bool]:
    """One page, newest first, after the keyset position ``after``; and whether more follow.
    With ``before`` instead: the page just before that position (still newest first), and
    whether more precede it."""
    stmt = calls_query(actor, f)
    key = tuple_(Call.started_at, Call.id)
    if before is not None:
        stmt = stmt.where(key > tuple_(*before))
        stmt = stmt.order_by(Call.started_at.asc(), Call.id.asc()).limit(size + 1)
        rows = list((await session.scalars(stmt)).all())
        return rows[:size][::-1], len(rows) > size
    if after is not None:
        stmt = stmt.where(key < tuple_(*after))
    stmt = stmt.order_by(Call.started_at.desc(), Call.id.desc()).limit(size + 1)
    rows = list((await session.scalars(stmt)).all())
    return rows[:size], len(rows) > size


async def stream_calls(
    session: AsyncSession, actor: Actor, f: CallFilter, chunk: int = 2000
) -> AsyncIterator[Call]:
    """Every call of the filter, newest first, read in keyset chunks (for exports)."""
    after: tuple[datetime, int] | None = None
    while True:
        rows, more = await calls_page(session, actor, f, size=chunk, after=after)
        for row in rows:
            yield row
        if not more or not rows:
            return
        after = (rows[-1].started_at, rows[-1].id)
        session.expunge_all()


def _whole_day(moment: datetime | None) -> bool:
    return moment is None or moment.timetz().replace(tzinfo=None) == time(0)


def uses_rollups(f: CallFilter) -> bool:
    return (
        f.sub_account_id is None
        and f.disposition is None
        and not f.prefix
        and not f.number
        and _whole_day(f.started_from)
        and _whole_day(f.started_to)
    )


def _rollup_sums(f: CallFilter, *group: Any) -> Select:
    """The rollups of a scoped filter (``uses_rollups``) summed per currency and ``group``."""
    stmt = (
        select(
            Reseller.currency,
            *group,
            func.coalesce(func.sum(CallRollup.calls), 0),
            func.coalesce(func.sum(CallRollup.seconds), 0),
            func.coalesce(func.sum(CallRollup.cost), 0),
            func.coalesce(func.sum(CallRollup.sell), 0),
        )
        .join(Reseller, Reseller.id == CallRollup.reseller_id)
        .group_by(Reseller.currency, *group)
    )
    if f.client_id is not None:
        stmt = stmt.where(CallRollup.client_id == f.client_id)
    if f.reseller_id is not None:
        stmt = stmt.where(CallRollup.reseller_id == f.reseller_id)
    if f.direction is not None:
        stmt = stmt.where(CallRollup.direction == f.direction)
    if f.started_from is not None:
        stmt = stmt.where(CallRollup.day >= f.started_from.date())
    if f.started_to is not None:
        stmt = stmt.where(CallRollup.day < f.started_to.date())
    return stmt


async def totals(session: AsyncSession, actor: Actor, f: CallFilter) -> list[Totals]:
    """Totals of a scoped filter, one per currency (see the module docstring)."""
    if not _can_read(actor):
        return []
    if uses_rollups(f):
        stmt = _rollup_sums(f)
        from_rollups = True
    else:
        stmt = (
            select(
                Call.currency,
                func.count(),
                func.coalesce(func.sum(Call.billsec), 0),
                func.coalesce(func.sum(Call.cost), 0),
                func.coalesce(func.sum(Call.sell), 0),
            )
            .where(*_conditions(f))
            .group_by(Call.currency)
        )
        from_rollups = False
    rows = (await session.execute(stmt)).all()
    out = [
        Totals(cur, int(n), int(s), int(c), int(v), from_rollups) for cur, n, s, c, v in rows if n
    ]
    return sorted(out, key=lambda t: t.currency)


async def daily_totals(
    session: AsyncSession, actor: Actor, f: CallFilter
) -> list[tuple[date, Totals]]:
    """Totals of a scoped filter per UTC day and currency, read from the rollups (one
    statement, whatever the number of calls); days without calls are left out. The filter
    must be one the rollups answer (client / reseller, direction, whole UTC days) and span at
    most ``MAX_DAILY_DAYS`` days."""
    if not uses_rollups(f):
        raise invalid(
            "from", "totals per day need whole UTC days, filtered at most by client and direction"
        )
    if f.started_from is None or f.started_to is None:
        raise invalid("from", "totals per day need both ends of the period")
    if (f.started_to - f.started_from).days > MAX_DAILY_DAYS:
        raise invalid("to", f"totals per day cover at most {MAX_DAILY_DAYS} days")
    if not _can_read(actor):
        return []
    rows = (await session.execute(_rollup_sums(f, CallRollup.day))).all()
    out = [
        (day, Totals(cur, int(n), int(s), int(c), int(v), True))
        for cur, day, n, s, c, v in rows
        if n
    ]
    return sorted(out, key=lambda item: (item[0], item[1].currency))


async def get_call(session: AsyncSession, actor: Actor, call_pk: int) -> Call:
    """One call the actor may see, or not found."""
    call = await session.get(Call, call_pk)
    if (
        call is None
        or not _can_read(actor)
        or not _sees_client(actor, call.client_id, call.reseller_id)
    ):
        raise not_found("call")
    return call
