"""Rating: what a call costs the reseller and what it sells for to the client.

Lookup. A deck is held in memory as a dict from prefix to rate, probed longest prefix first,
starting no longer than the deck's longest prefix (the CGRateS way). Each process caches one
index per deck together with the deck's ``version``; every use first reads that version (one
indexed query, or the caller's own query carries it), so a rate change is seen by the very next
authorization or rating on every process, never a stale one. One build per deck at a time: the
callers that miss meanwhile await it (``VersionedCache``). Packages are cached the same way.

Billing (one rule for both sides):
  billed seconds = 0 when unanswered; else at least the first increment, then rounded up to
  the increment (27 s at 6/6 -> 30 s; 61 s at 60/60 -> 120 s);
  charge = connection fee + rate x billed / 60, rounded once, half-up, to the micro
  (``money.round_micros``). Cost uses the deck's increments, sell uses the package's.
  Batch rating (``api.domain.calls``) computes the same charge in integers
  (``charge_terms``/``charge_exact``: rate and fee as exact fractions, half-up by floor
  division), proven equal to ``charge`` by the property tests.

Sell price, markup model (the client's package; precedence as DESIGN §3):
  longest prefix override > country override > US/Canada (NANPA) override >
  (cost rate + markup_fixed) x (1 + markup_pct / 100), kept exact (a Decimal of micros) until
  the charge is rounded; the connection fee is marked up by the same percent.
Sell price, commission model: the base (cost) rate, plus the client's personal percent.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from api import collector
from api.domain.prefix_ranges import PrefixRanges
from api.models import Package, PackageOverride, Rate, RateDeck
from api.models.base import utcnow

NANPA_KEY = "NANPA"
NANPA_COUNTRIES = frozenset({"US", "CA"})

T = TypeVar("T")
# where rates are read from: a session, a connection, or an engine (the switch's lean path)
Database = AsyncSession | AsyncConnection | AsyncEngine


@dataclass(frozen=True, slots=True)
class DeckRate:
    prefix: str
    destination: str
    country: str
    rate: int  # micros per minute
    connection_fee: int
    first_increment: int
    increment: int
    effective_from: datetime


def _compile_lookup(
    by_prefix: dict[str, DeckRate | tuple[DeckRate, ...]], lengths: tuple[int, ...]
) -> Callable[..., DeckRate | None]:
    """``DeckIndex.lookup``, as a closure over the deck's dict: the hot path of rating, with
    every name it touches local (a method's attribute look-ups cost a third of its time)."""
    get = by_prefix.get
    single = DeckRate

    def lookup(number: str, at: datetime | None = None) -> DeckRate | None:
        """The rate of the longest prefix of ``number`` in effect at ``at`` (default now).
        (Probing a length beyond the number's own yields the whole number, whose own entry is
        then the longest match anyway.)"""
        for length in lengths:
            hit = get(number[:length])
            if hit is None:
                continue
            if hit.__class__ is single:
                if at is None or hit.effective_from <= at:
                    return hit
                continue
            moment = at or utcnow()
            for row in hit:  # newest first
                if row.effective_from <= moment:
                    return row
        return None

    return lookup


class DeckIndex:
    """Longest-prefix lookup over one deck. A prefix maps straight to its rate when that is its
    only row and already in effect when the index was built (time only moves on, so it stays
    in effect: the common case needs no clock). Otherwise it maps to its rows newest first
    (a tuple), checked against the moment of the call."""

    __slots__ = (
        "_by_prefix",
        "_lengths",
        "_newest",
        "_ranges",
        "lookup",
        "max_len",
        "memo",
        "size",
    )

    def __init__(self, rates: list[DeckRate]):
        grouped: dict[str, list[DeckRate]] = {}
        for rate in rates:
            grouped.setdefault(rate.prefix, []).append(rate)
        built = utcnow()
        self._by_prefix: dict[str, DeckRate | tuple[DeckRate, ...]] = {
            prefix: rows[0]
            if len(rows) == 1 and rows[0].effective_from <= built
            else tuple(sorted(rows, key=lambda r: r.effective_from, reverse=True))
            for prefix, rows in grouped.items()
        }
        # only the lengths that occur, longest first: no probe for a length no prefix has
        self._lengths = tuple(sorted({len(p) for p in grouped}, reverse=True))
        self.max_len = self._lengths[0] if self._lengths else 0
        self.size = len(rates)
        # batch rating's prices at cost / commission of this deck's rates (api.domain.calls)
        self.memo: dict[Any, Any] = {}
        self.lookup = _compile_lookup(self._by_prefix, self._lengths)
        # the batch lookup's ranges, built on first use (authorization never needs them)
        self._ranges: PrefixRanges | bool | None = None
        # the newest date among prefixes of one row: a batch of calls all at or after it
        # can take those rows from the ranges without looking at their dates
        self._newest = max(
            (hit.effective_from for hit in self._by_prefix.values() if type(hit) is DeckRate),
            default=built,
        )

    def lookup_many(
        self, numbers: Sequence[str], moments: Sequence[datetime] | None = None
    ) -> list[DeckRate | None]:
        """``lookup`` of every number (each at its moment, default now) in one pass over
        arrays (``PrefixRanges``); numbers it cannot place, prefixes with several dated rows,
        and moments older than the deck's newest row are settled one by one by ``lookup``."""
        ranges = self._batch_ranges()
        if not ranges or (moments and min(moments) < self._newest):
            found, left = [None] * len(numbers), range(len(numbers))
        else:
            found, left = ranges.match(numbers)
        lookup = self.lookup
        for i in left:
            found[i] = lookup(numbers[i], moments[i] if moments else None)
        return found

    def prepare_batches(self) -> None:
        """Build the batch lookup's ranges now rather than in the first batch of calls."""
        self._batch_ranges()

    def _batch_ranges(self) -> PrefixRanges | bool:
        if self._ranges is None:
            try:
                self._ranges = PrefixRanges(
                    self._by_prefix, final=lambda hit: hit.__class__ is DeckRate
                )
            except ValueError:  # no prefixes, or too long or not digits: one by one
                self._ranges = False
        return self._ranges

    def current(self, at: datetime | None = None) -> list[DeckRate]:
        """The rate of each prefix in effect at ``at`` (default now); prefixes not yet in
        effect are left out."""
        moment = at or utcnow()
        out = []
        for hit in self._by_prefix.values():
            rows = (hit,) if type(hit) is DeckRate else hit
            for row in rows:  # newest first
                if row.effective_from <= moment:
                    out.append(row)
                    break
        return out


Stamp = tuple[int, datetime]


class VersionedCache(Generic[T]):
    """What this process built from the database, per id, for one stamp: ``(version,
    created_at)`` of the row it was built from, so that a deck or package deleted and made again
    under the same id (or another database in the same process, as in tests) is never taken for
    it. A build is single-flight per id: callers that miss while one is under way await it
    instead of each building the same thing (100,000 prefixes take a second of CPU)."""

    def __init__(self) -> None:
        self._entries: dict[int, tuple[Stamp, T]] = {}
        self._builds: dict[int, asyncio.Event] = {}

    def get(self, key: int, stamp: Stamp) -> T | None:
        """What was built for ``key`` at ``stamp``, or None."""
        hit = self._entries.get(key)
        return hit[1] if hit is not None and hit[0] == stamp else None

    async def get_or_build(self, key: int, stamp: Stamp, build: Callable[[], Awaitable[T]]) -> T:
        """What was built for ``key`` at ``stamp``, else ``build()``, once: concurrent callers
        wait for the build under way (if it fails, one of them tries again)."""
        while True:
            hit = self._entries.get(key)
            if hit is not None and hit[0] == stamp:
                return hit[1]
            under_way = self._builds.get(key)
            if under_way is None:
                break
            await under_way.wait()
        under_way = self._builds[key] = asyncio.Event()
        try:
            value = await build()
            self._entries[key] = (stamp, value)
        finally:
            del self._builds[key]
            under_way.set()
        return value


_decks: VersionedCache[DeckIndex] = VersionedCache()
_DECK_STAMP = select(RateDeck.version, RateDeck.created_at).where(RateDeck.id == bindparam("id"))
_DECK_RATES = select(
    Rate.prefix,
    Rate.destination,
    Rate.country,
    Rate.rate,
    Rate.connection_fee,
    Rate.first_increment,
    Rate.increment,
    Rate.effective_from,
).where(Rate.deck_id == bindparam("id"))


async def deck_index(db: Database, deck_id: int, stamp: Stamp | None = None) -> DeckIndex:
    """The deck's index, built again only when its stamp moved since this process built it.
    ``stamp``: the deck's ``(version, created_at)`` when the caller has read it already (then a
    cache hit needs no SQL); else it is read here (one indexed query)."""
    if stamp is None:
        async with _session(db) as session:
            row = (await session.execute(_DECK_STAMP, {"id": deck_id})).first()
        if row is None:
            return DeckIndex([])
        stamp = (row[0], row[1])
    index = _decks.get(deck_id, stamp)
    if index is not None:
        return index

    async def build() -> DeckIndex:
        async with _session(db) as session:
            rows = (await session.execute(_DECK_RATES, {"id": deck_id})).all()
        index = DeckIndex([DeckRate(*row) for row in rows])
        collector.settle_long_lived()
        return index

    return await _decks.get_or_build(deck_id, stamp, build)


def billed_seconds(billsec: int, first_increment: int, increment: int) -> int:
    if billsec <= 0:
        return 0
    if billsec <= first_increment:
        return first_increment
    if increment <= 0:
        return billsec
    extra = billsec - first_increment
    return first_increment + -(-extra // increment) * increment


def charge(rate: Decimal | int, connection_fee: Decimal | int, billed: int) -> int:
    """Connection fee + rate x billed / 60, rounded once, half-up, to the micro."""
    from api.money import round_micros

    if billed <= 0:
        return 0
    return round_micros(Decimal(connection_fee) + Decimal(rate) * billed / 60)


def charge_terms(rate: Decimal | int, connection_fee: Decimal | int) -> tuple[int, int, int]:
    """``(a, b, den)``, integers with ``fee + rate x billed / 60 == (a x billed + b) / den``
    exactly (the rate and fee as exact fractions), for :func:`charge_exact`."""
    if rate.__class__ is int and connection_fee.__class__ is int:
        return rate, connection_fee * 60, 60
    rn, rd = Decimal(rate).as_integer_ratio()
    fn, fd = Decimal(connection_fee).as_integer_ratio()
    return rn * fd, fn * rd * 60, rd * fd * 60


def charge_exact(terms: tuple[int, int, int], billed: int) -> int:
    """:func:`charge` in integer arithmetic over :func:`charge_terms`: the same half-up
    rounding (half away from zero), once, with no Decimal in the loop."""
    if billed <= 0:
        return 0
    a, b, den = terms
    num = a * billed + b
    if num >= 0:
        return (2 * num + den) // (2 * den)
    return -((den - 2 * num) // (2 * den))


# --- the sell side -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SellPrice:
    rate: Decimal  # micros per minute, exact
    connection_fee: Decimal
    first_increment: int
    increment: int
    rule: str  # prefix | country | nanpa | markup | base | personal


@dataclass(frozen=True)
class PackagePricing:
    """A package and its overrides, ready to price against a matched deck rate."""

    package: Any
    prefix_overrides: dict[str, PackageOverride]
    country_overrides: dict[str, PackageOverride]
    nanpa: PackageOverride | None
    max_prefix: int
    # batch rating's prices of this package over matched deck rates (api.domain.calls)
    memo: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    def price(self, number: str, cost: DeckRate) -> SellPrice:
        pkg = self.package
        override, rule = self._override(number, cost)
        if override is not None:
            return SellPrice(
                Decimal(override.rate),
                Decimal(override.connection_fee),
                pkg.first_increment,
                pkg.increment,
                rule,
            )
        factor = 1 + Decimal(pkg.markup_pct) / 100
        return SellPrice(
            (cost.rate + pkg.markup_fixed) * factor,
            cost.connection_fee * factor,
            pkg.first_increment,
            pkg.increment,
            "markup",
        )

    def override_for(self, number: str, cost: DeckRate) -> tuple[PackageOverride | None, str]:
        """The override that sets the price of ``number`` (matched to ``cost``) and its rule."""
        return self._override(number, cost)

    def _override(self, number: str, cost: DeckRate) -> tuple[PackageOverride | None, str]:
        for length in range(min(len(number), self.max_prefix), 0, -1):
            hit = self.prefix_overrides.get(number[:length])
            if hit is not None:
                return hit, "prefix"
        if cost.country and cost.country in self.country_overrides:
            return self.country_overrides[cost.country], "country"
        if self.nanpa is not None and (
            cost.country in NANPA_COUNTRIES or (not cost.country and number.startswith("1"))
        ):
            return self.nanpa, "nanpa"
        return None, "markup"


_packages: VersionedCache[PackagePricing | None] = VersionedCache()
_PACKAGE_STAMP = select(Package.version, Package.created_at).where(Package.id == bindparam("id"))


async def package_pricing(
    db: Database, package_id: int, stamp: Stamp | None = None
) -> PackagePricing | None:
    """The package's pricing (None: no such package), built again only when its stamp moved;
    ``stamp`` as for :func:`deck_index`."""
    if stamp is None:
        async with _session(db) as session:
            row = (await session.execute(_PACKAGE_STAMP, {"id": package_id})).first()
        if row is None:
            return None
        stamp = (row[0], row[1])
    pricing = _packages.get(package_id, stamp)
    if pricing is not None:
        return pricing
    return await _packages.get_or_build(package_id, stamp, lambda: _load_pricing(db, package_id))


async def _built_by_stamp(
    db: Database,
    model: type[RateDeck] | type[Package],
    ids: set[int],
    built: Callable,
    missing: Any,
) -> dict:
    """``built(db, id, stamp)`` (:func:`deck_index`, :func:`package_pricing`) of many decks or
    packages, their stamps read in one query; ``missing`` for an id that does not exist."""
    stamps = {}
    if ids:
        async with _session(db) as session:
            rows = await session.execute(
                select(model.id, model.version, model.created_at).where(model.id.in_(sorted(ids)))
            )
        stamps = {row[0]: (row[1], row[2]) for row in rows}
    return {
        i: missing if (stamp := stamps.get(i)) is None else await built(db, i, stamp) for i in ids
    }


async def deck_indexes(db: Database, deck_ids: set[int]) -> dict[int, DeckIndex]:
    """:func:`deck_index` of many decks, their stamps read in one query."""
    return await _built_by_stamp(db, RateDeck, deck_ids, deck_index, DeckIndex([]))


async def package_pricings(db: Database, package_ids: set[int]) -> dict[int, PackagePricing | None]:
    """:func:`package_pricing` of many packages, their stamps read in one query."""
    return await _built_by_stamp(db, Package, package_ids, package_pricing, None)


async def _load_pricing(db: Database, package_id: int) -> PackagePricing | None:
    async with _session(db) as session:
        package = await session.get(Package, package_id, populate_existing=True)
        if package is None:
            return None
        overrides = list(
            await session.scalars(
                select(PackageOverride).where(PackageOverride.package_id == package_id)
            )
        )
    prefix = {o.key: o for o in overrides if o.kind == "prefix"}
    return PackagePricing(
        package=package,
        prefix_overrides=prefix,
        country_overrides={o.key: o for o in overrides if o.kind == "country"},
        nanpa=next((o for o in overrides if o.kind == "nanpa"), None),
        max_prefix=max((len(k) for k in prefix), default=0),
    )


@asynccontextmanager
async def _session(db: Database) -> AsyncIterator[AsyncSession]:
    """A session of its own over ``db``: on an ``AsyncSession``'s connection (its transaction,
    its changes flushed first), or on a connection or engine, for as long as needed. What it
    loads is cached beyond the caller's transaction, so it is never the caller's: a rollback
    of that transaction expires the caller's objects, not these."""
    if isinstance(db, AsyncSession):
        await db.flush()
        db = await db.connection()
    async with AsyncSession(bind=db) as session:
        yield session


def commission_price(cost: DeckRate, personal_pct: Decimal) -> SellPrice:
    """A commission-model client pays the base rate, or base + its personal percent."""
    factor = 1 + Decimal(personal_pct) / 100
    return SellPrice(
        cost.rate * factor,
        cost.connection_fee * factor,
        cost.first_increment,
        cost.increment,
        "personal" if personal_pct else "base",
    )


@dataclass(frozen=True)
class Rated:
    """Both sides of one call's money."""

    cost_rate: DeckRate
    sell: SellPrice
    cost_billed: int
    cost: int
    sell_billed: int
    sell_amount: int


def rate_call(cost_rate: DeckRate, sell: SellPrice, billsec: int) -> Rated:
    cost_billed = billed_seconds(billsec, cost_rate.first_increment, cost_rate.increment)
    sell_billed = billed_seconds(billsec, sell.first_increment, sell.increment)
    return Rated(
        cost_rate=cost_rate,
        sell=sell,
        cost_billed=cost_billed,
        cost=charge(cost_rate.rate, cost_rate.connection_fee, cost_billed),
        sell_billed=sell_billed,
        sell_amount=charge(sell.rate, sell.connection_fee, sell_billed),
    )


def max_seconds(
    funds: int,
    rate: Decimal | int,
    connection_fee: Decimal | int,
    first_increment: int,
    increment: int,
    cap: int,
) -> int:
    """The longest call whose charge stays within ``funds`` (whole increments), at most ``cap``."""
    if funds <= 0:
        return 0
    if Decimal(rate) <= 0:
        return cap if charge(rate, connection_fee, first_increment) <= funds else 0
    if charge(rate, connection_fee, first_increment) > funds:
        return 0
    # solve fee + rate*s/60 <= funds, then step down to a whole increment boundary
    seconds = int((Decimal(funds) - Decimal(connection_fee)) * 60 / Decimal(rate))
    seconds = min(seconds, cap)
    if seconds <= first_increment:
        return first_increment
    step = increment if increment > 0 else 1
    seconds = first_increment + (seconds - first_increment) // step * step
    while seconds > first_increment and charge(rate, connection_fee, seconds) > funds:
        seconds -= step
    return seconds
